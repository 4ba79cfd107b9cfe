import FoundationEssentials

/// A JWS compact token (`header.payload.signature`, RFC 7515) whose signature verified against
/// a JWKS, and the claims Sluice reads from it. Times are not checked here: the verifier does
/// that with its own clock and skew, also for tokens it remembers.
struct JSONWebToken: Sendable {
    let issuer: String
    let subject: String
    let audiences: [String]
    /// Seconds since the epoch.
    let expires: Double
    let notBefore: Double?

    /// Tokens longer than this are refused unread (Kubernetes' are about 1 KiB).
    static let maxLength = 16 * 1024

    private struct Header: Decodable {
        let alg: String
        let kid: String?
        let crit: [String]?
    }

    private struct Claims: Decodable {
        let iss: String?
        let sub: String?
        let aud: Audience?
        let exp: Double?
        let nbf: Double?
    }

    /// `aud`: one string or a list of them (RFC 7519 §4.1.3).
    private struct Audience: Decodable {
        let values: [String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                values = [one]
            } else {
                values = try container.decode([String].self)
            }
        }
    }

    /// Verifies `token`'s signature with `keys` and reads its claims; throws why it fails.
    init(verifying token: String, with keys: JSONWebKeySet) throws(OIDCFailure) {
        guard token.utf8.count <= JSONWebToken.maxLength else { throw .invalid("token longer than \(JSONWebToken.maxLength) bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalid("not a JWS compact token (header.payload.signature)") }
        guard let headerBytes = Base64URL.decode(parts[0]), let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else {
            throw .invalid("malformed header")
        }
        guard let algorithm = JWSAlgorithm(rawValue: header.alg) else { throw .invalid("unsupported algorithm \(header.alg)") }
        // Critical extensions must be understood (RFC 7515 §4.1.11); Sluice understands none.
        if let critical = header.crit { throw .invalid("unsupported critical header \(critical.joined(separator: ", "))") }
        guard let signature = Base64URL.decode(parts[2]) else { throw .invalid("malformed signature") }
        let candidates = keys.candidates(for: algorithm, kid: header.kid)
        guard !candidates.isEmpty else { throw .invalid("no key for \(header.kid.map { "kid \($0) and " } ?? "")\(header.alg)") }
        let signed = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard candidates.contains(where: { $0.key.verify(signature, of: signed, scheme: algorithm.scheme) }) else {
            throw .invalid("signature does not verify")
        }
        guard let payloadBytes = Base64URL.decode(parts[1]), let claims = try? JSONDecoder().decode(Claims.self, from: Data(payloadBytes)) else {
            throw .invalid("malformed claims")
        }
        guard let issuer = claims.iss else { throw .invalid("no iss claim") }
        guard let subject = claims.sub else { throw .invalid("no sub claim") }
        guard let audiences = claims.aud?.values else { throw .invalid("no aud claim") }
        guard let expires = claims.exp else { throw .invalid("no exp claim") }
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.expires = expires
        notBefore = claims.nbf
    }
}
