import Dispatch
import SluiceBroker
import SluiceIdentity

/// `--oidc`: the ingress takes events only with an `Authorization: Bearer` token that the
/// verifier accepts for the target's audience (401 otherwise); the target's EventPolicies then
/// decide what the sender may post.
final class OIDCIngressAuthenticator: IngressAuthenticator {
    let verifier: OIDCVerifier

    init(verifier: OIDCVerifier) {
        self.verifier = verifier
    }

    func authenticateNow(authorization: UnsafeRawBufferPointer?, audience: String) -> Authentication? {
        guard let authorization, let token = OIDCIngressAuthenticator.bearerToken(authorization) else {
            return .refused(.unauthenticated(OIDCFailure.missingToken.description))
        }
        return verifier.cached(token: token, audience: audience).map(OIDCIngressAuthenticator.authentication)
    }

    func authenticateLater(authorization: String?, audience: String, completion: @escaping @Sendable (Authentication) -> Void) {
        var header = authorization ?? ""
        guard let token = header.withUTF8({ OIDCIngressAuthenticator.bearerToken(UnsafeRawBufferPointer($0)).map { String(decoding: $0, as: UTF8.self) } })
        else {
            return completion(.refused(.unauthenticated(OIDCFailure.missingToken.description)))
        }
        let verifier = self.verifier
        DispatchQueue.global().async { completion(OIDCIngressAuthenticator.authentication(verifier.verify(token, audience: audience))) }
    }

    private static func authentication(_ result: Result<SenderIdentity, OIDCFailure>) -> Authentication {
        switch result {
        case .success(let sender): return .sender(sender.subject)
        case .failure(let failure): return .refused(.unauthenticated(failure.description))
        }
    }

    /// The token of `Authorization: Bearer <token>` (the scheme in any case, spaces around the
    /// token dropped), within the header's bytes; nil for another scheme or an empty token.
    static func bearerToken(_ header: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let scheme: StaticString = "bearer "
        guard header.count > scheme.utf8CodeUnitCount else { return nil }
        for index in 0..<scheme.utf8CodeUnitCount where header[index] | 0x20 != scheme.utf8Start[index] { return nil }
        var start = scheme.utf8CodeUnitCount
        var end = header.count
        while start < end && header[start] == 0x20 { start += 1 }
        while end > start && header[end - 1] == 0x20 { end -= 1 }
        return start == end ? nil : UnsafeRawBufferPointer(rebasing: header[start..<end])
    }
}
