import Foundation
import JWTKit
@testable import SluiceIdentity
import SluiceTestSupport
import Testing

/// The verifier on OpenSSL against tokens signed by an independent implementation (jwt-kit):
/// every algorithm it accepts, and the tokens it must refuse.
@Suite("OIDC verifier")
struct OIDCVerifierTests {
    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let issuer = "https://issuer.example"
    static let audience = "eventing.knative.dev/broker/demo/default"

    /// Signers for every algorithm, and the JWKS of their public keys.
    final class Keys: Sendable {
        let signers = JWTKeyCollection()
        let jwks: String
        let directory = temporaryDirectory("jwks")

        init() async throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pem = directory + "/rsa.pem"
            guard try runProgram("/usr/bin/openssl", ["genrsa", "-out", pem, "2048"]).status == 0 else { throw TestFailure("openssl genrsa") }
            let rsa = try Insecure.RSA.PrivateKey(pem: String(contentsOfFile: pem, encoding: .utf8))
            let (n, e) = try rsa.publicKey.getKeyPrimitives()
            let p256 = ES256PrivateKey(), p384 = ES384PrivateKey(), p521 = ES512PrivateKey()
            let ed = try EdDSA.PrivateKey(curve: .ed25519)
            func ec(_ parameters: ECDSAParameters?, _ crv: String, _ kid: String) -> String {
                "{\"kty\": \"EC\", \"crv\": \"\(crv)\", \"x\": \"\(parameters?.x ?? "")\", \"y\": \"\(parameters?.y ?? "")\", \"kid\": \"\(kid)\"}"
            }
            let keys = [
                "{\"kty\": \"RSA\", \"n\": \"\(n.base64URL)\", \"e\": \"\(e.base64URL)\", \"kid\": \"rsa\"}",
                "{\"kty\": \"RSA\", \"n\": \"\(n.base64URL)\", \"e\": \"\(e.base64URL)\", \"kid\": \"rsa-pss\", \"alg\": \"PS512\"}",
                ec(p256.publicKey.parameters, "P-256", "p256"), ec(p384.publicKey.parameters, "P-384", "p384"),
                ec(p521.publicKey.parameters, "P-521", "p521"),
                "{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": \"\(ed.publicKey.rawRepresentation.base64URL)\", \"kid\": \"ed\"}",
                "{\"kty\": \"oct\", \"k\": \"c2VjcmV0\", \"kid\": \"hmac\"}",
            ]
            jwks = directory + "/jwks.json"
            try "{\"keys\": [\(keys.joined(separator: ", "))]}".write(toFile: jwks, atomically: true, encoding: .utf8)
            await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa")
            await signers.add(pss: rsa, digestAlgorithm: .sha512, kid: "rsa-pss")
            await signers.add(ecdsa: p256, kid: "p256")
            await signers.add(ecdsa: p384, kid: "p384")
            await signers.add(ecdsa: p521, kid: "p521")
            await signers.add(eddsa: ed, kid: "ed")
            await signers.add(hmac: "a secret of thirty-two bytes or more", digestAlgorithm: .sha256, kid: "hmac")
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func token(kid: String, issuer: String = OIDCVerifierTests.issuer, audience: String = OIDCVerifierTests.audience,
                   expires: TimeInterval = 300, notBefore: TimeInterval? = nil) async throws -> String {
            let claims = Claims(iss: IssuerClaim(value: issuer), sub: SubjectClaim(value: "system:serviceaccount:demo:sender"),
                                aud: AudienceClaim(value: [audience]), exp: ExpirationClaim(value: Date().addingTimeInterval(expires)),
                                nbf: notBefore.map { NotBeforeClaim(value: Date().addingTimeInterval($0)) })
            return try await signers.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    private func failure(_ result: Result<SenderIdentity, OIDCFailure>) -> String? {
        if case .failure(let failure) = result { return failure.description }
        return nil
    }

    @Test("RS256, PS512, ES256, ES384, ES512 and EdDSA tokens verify, and are then answered from the cache")
    func everyAlgorithm() async throws {
        let keys = try await Keys()
        let verifier = try OIDCVerifier(jwksPath: keys.jwks, issuer: Self.issuer)
        for kid in ["rsa", "p256", "p384", "p521", "ed"] {
            let token = try await keys.token(kid: kid)
            let result = verifier.verify(token, audience: Self.audience)
            #expect(failure(result) == nil, "\(kid): \(failure(result) ?? "")")
            #expect(verifier.cached(token, audience: Self.audience).map { failure($0) == nil } == true, "\(kid) cached")
        }
        let pss = try await keys.token(kid: "rsa-pss")
        #expect(String(decoding: try #require(Base64URL.decode(pss.split(separator: ".")[0])), as: UTF8.self).contains("PS512"))
        #expect(failure(verifier.verify(pss, audience: Self.audience)) == nil)
        // The same key pinned to PS512 does not take an RS256 signature.
        let parts = try await keys.token(kid: "rsa").split(separator: ".")
        let pinned = [Data(#"{"alg":"RS256","kid":"rsa-pss"}"#.utf8).base64URL, String(parts[1]), String(parts[2])].joined(separator: ".")
        #expect(failure(verifier.verify(pinned, audience: Self.audience))?.contains("no key for kid rsa-pss") == true)
    }

    @Test("refused: none, HMAC, a changed payload, another kid, crit, wrong issuer, audience or time")
    func refusals() async throws {
        let keys = try await Keys()
        let verifier = try OIDCVerifier(jwksPath: keys.jwks, issuer: Self.issuer)
        let good = try await keys.token(kid: "p256")
        let parts = good.split(separator: ".").map(String.init)
        func header(_ json: String) -> String { Data(json.utf8).base64URL }
        let claims = Data(#"{"iss":"https://issuer.example","sub":"system:serviceaccount:demo:other","aud":"\#(Self.audience)","exp":4102444800}"#.utf8).base64URL
        let cases: [(String, String)] = [
            ([header(#"{"alg":"none"}"#), parts[1], ""].joined(separator: "."), "unsupported algorithm none"),
            (try await keys.token(kid: "hmac"), "unsupported algorithm HS256"),
            ([parts[0], claims, parts[2]].joined(separator: "."), "signature does not verify"),
            ([header(#"{"alg":"ES256","kid":"p384"}"#), parts[1], parts[2]].joined(separator: "."), "no key for kid p384"),
            ([header(#"{"alg":"ES256","kid":"p256","crit":["exp"]}"#), parts[1], parts[2]].joined(separator: "."), "critical header"),
            (parts[0] + "." + parts[1], "not a JWS compact token"),
            ("a.b$c.d", "malformed header"),
            (try await keys.token(kid: "rsa", issuer: "https://elsewhere"), "issuer"),
            (try await keys.token(kid: "rsa", audience: "eventing.knative.dev/broker/demo/other"), "audience"),
            (try await keys.token(kid: "ed", expires: -120), "expired"),
            (try await keys.token(kid: "ed", notBefore: 120), "not valid yet"),
            (String(repeating: "a", count: 20_000), "longer than"),
        ]
        for (token, reason) in cases {
            let answer = failure(verifier.verify(token, audience: Self.audience))
            #expect(answer?.contains(reason) == true, "\(reason): \(answer ?? "accepted")")
            #expect(verifier.cached(token, audience: Self.audience) == nil, "a refused token is not remembered")
        }
    }

    @Test("JWKS files: unusable keys are named, weak RSA is refused, other key types skipped")
    func keySets() throws {
        func problem(_ json: String) -> String? {
            do {
                _ = try JSONWebKeySet(json: Array(json.utf8))
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem("[]")?.contains("not a JWKS") == true)
        #expect(problem(#"{"keys": []}"#)?.contains("no usable signing key") == true)
        let weak = Data(repeating: 0xC3, count: 128).base64URL
        #expect(problem(#"{"keys": [{"kty": "RSA", "n": "\#(weak)", "e": "AQAB", "kid": "old"}]}"#)?.contains("shorter than 2048") == true)
        #expect(problem(#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}"#)?.contains("wrong size") == true)
        #expect(problem(#"{"keys": [{"kty": "EC", "crv": "P-256", "alg": "RS256", "x": "AA", "y": "AA"}]}"#) != nil)
    }

    @Test("base64url: no padding, no standard alphabet, no impossible lengths")
    func base64url() {
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("_-8") == [0xFF, 0xEF])
        #expect(Base64URL.decode("AQAB") == [1, 0, 1])
        for bad in ["AQAB=", "+/8", "A", "AQ AB", "é"] { #expect(Base64URL.decode(bad) == nil, "\(bad)") }
    }
}
