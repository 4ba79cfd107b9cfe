import Foundation
import JWTKit

/// A throwaway OIDC issuer for tests: an ES256 key ("ec") and an RS256 key ("rsa", made by
/// openssl) in a JWKS file, and tokens signed with them (jwt-kit signs).
public final class TestIssuer: Sendable {
    public static let issuer = "https://issuer.example"

    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The JWKS file.
    public let jwks: String
    private let signer: JWTKeyCollection

    public init(directory: String) async throws {
        let ec = ES256PrivateKey()
        let pem = directory + "/rsa.pem"
        let made = try runProgram("/usr/bin/openssl", ["genrsa", "-out", pem, "2048"])
        guard made.status == 0 else { throw TestFailure("openssl genrsa: \(made.error)") }
        let rsa = try Insecure.RSA.PrivateKey(pem: String(contentsOfFile: pem, encoding: .utf8))
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        guard let (x, y) = ec.publicKey.parameters else { throw TestFailure("no EC parameters") }
        let text = """
            {"keys": [
              {"kty": "EC", "crv": "P-256", "x": "\(x)", "y": "\(y)", "alg": "ES256", "kid": "ec", "use": "sig"},
              {"kty": "RSA", "n": "\(modulus.base64URL)", "e": "\(exponent.base64URL)", "alg": "RS256", "kid": "rsa", "use": "sig"}
            ]}
            """
        jwks = directory + "/jwks.json"
        try text.write(toFile: jwks, atomically: true, encoding: .utf8)
        signer = JWTKeyCollection()
        await signer.add(ecdsa: ec, kid: "ec")
        await signer.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa")
    }

    /// A signed token for `audience` from `subject`, expiring `expires` seconds from now.
    public func token(kid: String = "ec", issuer: String = TestIssuer.issuer, subject: String = "system:serviceaccount:demo:sender",
                      audience: String, expires: TimeInterval = 300) async throws -> String {
        let claims = Claims(iss: IssuerClaim(value: issuer), sub: SubjectClaim(value: subject), aud: AudienceClaim(value: [audience]),
                            exp: ExpirationClaim(value: Date().addingTimeInterval(expires)))
        return try await signer.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// The `serve` arguments that verify this issuer's tokens.
    public var serveArguments: [String] { ["--oidc", "--oidc-jwks", jwks, "--oidc-issuer", TestIssuer.issuer] }
}

extension Data {
    /// Base64url without padding, as JWTs and JWKs write bytes.
    public var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
