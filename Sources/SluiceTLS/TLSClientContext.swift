import Glibc
internal import COpenSSL

/// What a client trusts and offers when it connects over TLS (an `SSL_CTX`): the system's
/// root certificates plus every PEM certificate in a directory (Knative's
/// `/knative-custom-certs` convention), peer verification always on, TLS 1.2 or newer, ALPN
/// `http/1.1`, and sessions kept for resumption.
public final class TLSClientContext: @unchecked Sendable {  // immutable once made; OpenSSL locks internally
    let context: OpaquePointer

    /// `trustDirectory`: every `*.pem` and `*.crt` file in it is trusted too; one that cannot
    /// be read fails the whole context, with the file named. `authorities`: PEM certificates
    /// trusted as well (a destination's `CACerts`).
    public init(trustDirectory: String? = nil, authorities: String? = nil, minimumVersion: TLSVersion = .v1_2) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw .drainingQueue("cannot make a TLS context") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        _ = SSL_CTX_set_default_verify_paths(context)
        if let trustDirectory {
            let bundle = try TrustBundle(directory: trustDirectory)
            if !bundle.pem.isEmpty { try TLSClientContext.trust(pem: bundle.pem, in: context) }
        }
        if let authorities { try TLSClientContext.trust(pem: authorities, in: context) }
        _ = sluice_ssl_ctx_set_min_version(context, minimumVersion.openSSL)
        _ = sluice_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        _ = sluice_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_CLIENT))
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// Adds every certificate of `pem` to the context's trust store; none is a failure.
    private static func trust(pem: String, in context: OpaquePointer) throws(TLSError) {
        let bytes = Array(pem.utf8)
        let added: Int? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            let store = SSL_CTX_get_cert_store(context)
            var added = 0
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                if X509_STORE_add_cert(store, certificate) == 1 { added += 1 }
                X509_free(certificate)
            }
            return added
        }
        ERR_clear_error()  // the read that ends the loop queues "no start line"
        guard let added, added > 0 else { throw TLSError("CACerts holds no PEM certificate") }
    }
}
