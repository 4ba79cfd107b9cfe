internal import COpenSSL

/// A public key made from its raw parameters (as a JWK gives them) and signature
/// verification with it, on OpenSSL's EVP: RSA (PKCS #1 v1.5 and PSS), ECDSA on the NIST
/// curves, and Ed25519. The OpenSSL side of OIDC token verification; no JOSE knowledge here.
public final class PublicKey: @unchecked Sendable {  // immutable once made; OpenSSL keys are shareable
    private let key: OpaquePointer

    public enum Curve: String, Sendable {
        case p256 = "prime256v1", p384 = "secp384r1", p521 = "secp521r1"

        /// Bytes of one coordinate (and of r and s in a raw signature).
        public var coordinateSize: Int {
            switch self {
            case .p256: 32
            case .p384: 48
            case .p521: 66
            }
        }
    }

    public enum Digest: Sendable {
        case sha256, sha384, sha512

        fileprivate var md: OpaquePointer? {
            switch self {
            case .sha256: EVP_sha256()
            case .sha384: EVP_sha384()
            case .sha512: EVP_sha512()
            }
        }
    }

    public enum Scheme: Sendable {
        case pkcs1(Digest)
        case pss(Digest)
        /// `r || s`, each `curve.coordinateSize` bytes big-endian (JWS's form, not DER).
        case ecdsa(Digest, Curve)
        case ed25519
    }

    private init(_ key: OpaquePointer) {
        self.key = key
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// An RSA key from its modulus and public exponent (big-endian bytes).
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(TLSError) -> PublicKey {
        guard modulus.count >= 256 else { throw TLSError("RSA keys shorter than 2048 bits are refused") }
        return try make(type: "RSA") { builder in
            guard let n = BN_bin2bn(modulus, Int32(modulus.count), nil) else { return nil }
            defer { BN_free(n) }
            guard let e = BN_bin2bn(exponent, Int32(exponent.count), nil) else { return nil }
            defer { BN_free(e) }
            // The builder keeps pointers until `to_param` copies: the numbers live until then.
            guard OSSL_PARAM_BLD_push_BN(builder, cString("n"), n) == 1, OSSL_PARAM_BLD_push_BN(builder, cString("e"), e) == 1 else { return nil }
            return OSSL_PARAM_BLD_to_param(builder)
        }
    }

    /// An EC key from its affine coordinates (big-endian, each `curve.coordinateSize` bytes).
    public static func ec(curve: Curve, x: [UInt8], y: [UInt8]) throws(TLSError) -> PublicKey {
        guard x.count == curve.coordinateSize, y.count == curve.coordinateSize else { throw TLSError("EC coordinates of the wrong size for \(curve)") }
        let point = [0x04] + x + y  // uncompressed
        return try make(type: "EC") { builder in
            curve.rawValue.withCString { group in
                point.withUnsafeBytes { pub in
                    guard OSSL_PARAM_BLD_push_utf8_string(builder, cString("group"), group, 0) == 1,
                          OSSL_PARAM_BLD_push_octet_string(builder, cString("pub"), pub.baseAddress, pub.count) == 1 else { return nil }
                    return OSSL_PARAM_BLD_to_param(builder)
                }
            }
        }
    }

    /// An Ed25519 key from its 32 raw bytes.
    public static func ed25519(_ raw: [UInt8]) throws(TLSError) -> PublicKey {
        guard raw.count == 32, let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, raw.count) else {
            throw .drainingQueue("not an Ed25519 public key")
        }
        return PublicKey(key)
    }

    /// Whether `signature` is this key's over `message` under `scheme`.
    public func verify(_ signature: [UInt8], of message: [UInt8], scheme: Scheme) -> Bool {
        defer { ERR_clear_error() }
        var signature = signature
        let digest: Digest?
        switch scheme {
        case .pkcs1(let chosen), .pss(let chosen):
            digest = chosen
        case .ecdsa(let chosen, let curve):
            guard let der = PublicKey.derSignature(signature, size: curve.coordinateSize) else { return false }
            signature = der
            digest = chosen
        case .ed25519:
            digest = nil
        }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, digest?.md, nil, key) == 1 else { return false }
        if case .pss = scheme {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else { return false }
        } else if case .pkcs1 = scheme {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1 else { return false }
        }
        return EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }

    /// A key of `type` from the parameters `build` pushes and turns into an `OSSL_PARAM` list
    /// (in one scope, since the builder only points at the values until then).
    private static func make(type: String, _ build: (OpaquePointer) -> UnsafeMutablePointer<OSSL_PARAM>?) throws(TLSError) -> PublicKey {
        ERR_clear_error()
        guard let builder = OSSL_PARAM_BLD_new() else { throw .drainingQueue("out of memory") }
        defer { OSSL_PARAM_BLD_free(builder) }
        guard let parameters = build(builder) else { throw .drainingQueue("not a usable \(type) key") }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw .drainingQueue("no \(type) support") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1,
              EVP_PKEY_fromdata(context, &key, sluice_evp_pkey_public_key_selection(), parameters) == 1, let key else {
            throw .drainingQueue("not a usable \(type) key")
        }
        return PublicKey(key)
    }

    /// A JWS ECDSA signature (`r || s`) as the DER `ECDSA-Sig-Value` OpenSSL verifies.
    private static func derSignature(_ raw: [UInt8], size: Int) -> [UInt8]? {
        guard raw.count == 2 * size, let value = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(value) }
        guard let r = BN_bin2bn(raw, Int32(size), nil) else { return nil }
        guard let s = BN_bin2bn(Array(raw[size...]), Int32(size), nil) else {
            BN_free(r)
            return nil
        }
        guard ECDSA_SIG_set0(value, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(value, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(value, &cursor)
        }
        return written == length ? der : nil
    }
}

/// A parameter name for OpenSSL, which keeps the pointer: a literal's static bytes.
private func cString(_ name: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}
