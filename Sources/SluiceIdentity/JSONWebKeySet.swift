import FoundationEssentials
import SluiceCloudEvents
import SluiceTLS

/// The signing keys of a JWKS document (RFC 7517) that can verify tokens: RSA, EC (P-256,
/// P-384, P-521) and OKP Ed25519 keys, each with its `kid` and the algorithm it is pinned to,
/// if any. Keys of other types, or meant for encryption (`use: enc`), are left out.
struct JSONWebKeySet: Sendable {
    struct Key: Sendable {
        let id: String?
        /// The `alg` the key names, if any: then only tokens of that algorithm may use it.
        let algorithm: JWSAlgorithm?
        let family: JWSAlgorithm.Family
        let curve: PublicKey.Curve?
        let key: PublicKey
    }

    let keys: [Key]

    /// The JWK fields Sluice reads.
    private struct Document: Decodable {
        struct Entry: Decodable {
            let kty: String
            let kid: String?
            let alg: String?
            let use: String?
            let n: String?
            let e: String?
            let crv: String?
            let x: String?
            let y: String?
        }

        let keys: [Entry]
    }

    /// Reads `json`; throws a reason when it is not a JWKS or holds no usable signing key.
    init(json: [UInt8]) throws(OIDCFailure) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(json))
        } catch {
            throw .keys("not a JWKS document (an object with a \"keys\" list of JWKs)")
        }
        var keys: [Key] = []
        var problems: [String] = []
        for (index, entry) in document.keys.enumerated() where entry.use == nil || entry.use == "sig" {
            do {
                keys.append(try JSONWebKeySet.key(entry))
            } catch {
                problems.append("key \(entry.kid ?? String(index)): \(error)")
            }
        }
        guard !keys.isEmpty else {
            throw .keys("no usable signing key\(problems.isEmpty ? "" : " (\(problems.joined(separator: "; ")))")")
        }
        self.keys = keys
    }

    /// The keys that may verify a token of `algorithm` with header `kid`: the key of that id
    /// when the header names one, else every key of the algorithm's family.
    func candidates(for algorithm: JWSAlgorithm, kid: String?) -> [Key] {
        keys.filter { key in
            key.family == algorithm.family && (key.algorithm == nil || key.algorithm == algorithm)
                && (kid == nil || key.id == kid) && (algorithm.curve == nil || key.curve == algorithm.curve)
        }
    }

    private struct KeyProblem: Error, CustomStringConvertible {
        let description: String
    }

    private static func key(_ entry: Document.Entry) throws -> Key {
        let algorithm = try entry.alg.map { name in
            guard let known = JWSAlgorithm(rawValue: name) else { throw KeyProblem(description: "unsupported alg \(name)") }
            return known
        }
        func bytes(_ field: String?, _ name: String) throws -> [UInt8] {
            guard let field, let decoded = Base64URL.decode(field) else { throw KeyProblem(description: "\(name) is missing or not base64url") }
            return decoded
        }
        let family: JWSAlgorithm.Family
        var curve: PublicKey.Curve?
        let key: PublicKey
        switch entry.kty {
        case "RSA":
            family = .rsa
            key = try PublicKey.rsa(modulus: try bytes(entry.n, "n"), exponent: try bytes(entry.e, "e"))
        case "EC":
            family = .ec
            let curves: [String: PublicKey.Curve] = ["P-256": .p256, "P-384": .p384, "P-521": .p521]
            guard let named = entry.crv.flatMap({ curves[$0] }) else { throw KeyProblem(description: "unsupported curve \(entry.crv ?? "none")") }
            curve = named
            key = try PublicKey.ec(curve: named, x: try bytes(entry.x, "x"), y: try bytes(entry.y, "y"))
        case "OKP":
            guard entry.crv == "Ed25519" else { throw KeyProblem(description: "unsupported curve \(entry.crv ?? "none")") }
            family = .okp
            key = try PublicKey.ed25519(try bytes(entry.x, "x"))
        default:
            throw KeyProblem(description: "unsupported key type \(entry.kty)")
        }
        if let algorithm, algorithm.family != family || (algorithm.curve != nil && algorithm.curve != curve) {
            throw KeyProblem(description: "alg \(algorithm.rawValue) does not fit a \(entry.kty) key")
        }
        return Key(id: entry.kid, algorithm: algorithm, family: family, curve: curve, key: key)
    }
}

/// The JWS signature algorithms Sluice verifies (RFC 7518 §3); `none` and the HMAC ones are
/// not among them, so an unsigned token or one signed with a public key as a secret never passes.
enum JWSAlgorithm: String, Sendable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case edDSA = "EdDSA"

    enum Family: Sendable {
        case rsa, ec, okp
    }

    var family: Family {
        switch self {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: .rsa
        case .es256, .es384, .es512: .ec
        case .edDSA: .okp
        }
    }

    /// The curve an ECDSA algorithm is defined on.
    var curve: PublicKey.Curve? {
        switch self {
        case .es256: .p256
        case .es384: .p384
        case .es512: .p521
        default: nil
        }
    }

    var scheme: PublicKey.Scheme {
        switch self {
        case .rs256: .pkcs1(.sha256)
        case .rs384: .pkcs1(.sha384)
        case .rs512: .pkcs1(.sha512)
        case .ps256: .pss(.sha256)
        case .ps384: .pss(.sha384)
        case .ps512: .pss(.sha512)
        case .es256: .ecdsa(.sha256, .p256)
        case .es384: .ecdsa(.sha384, .p384)
        case .es512: .ecdsa(.sha512, .p521)
        case .edDSA: .ed25519
        }
    }
}

/// Base64url without padding (RFC 4648 §5), as JWS and JWK write bytes.
enum Base64URL {
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard text.utf8.count % 4 != 1 else { return nil }
        var standard: [UInt8] = []
        standard.reserveCapacity(text.utf8.count + 3)
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: standard.append(byte)
            case 0x2D: standard.append(0x2B)  // - for +
            case 0x5F: standard.append(0x2F)  // _ for /
            default: return nil
            }
        }
        while standard.count % 4 != 0 { standard.append(0x3D) }
        return standard.withUnsafeBytes { Base64.decode($0) }
    }
}
