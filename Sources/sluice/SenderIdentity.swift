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

    func authenticateNow(authorization: String?, audience: String) -> Authentication? {
        guard let token = OIDCIngressAuthenticator.bearerToken(authorization) else {
            return .refused(.unauthenticated(OIDCFailure.missingToken.description))
        }
        return verifier.cached(token, audience: audience).map(OIDCIngressAuthenticator.authentication)
    }

    func authenticateLater(authorization: String?, audience: String, completion: @escaping @Sendable (Authentication) -> Void) {
        guard let token = OIDCIngressAuthenticator.bearerToken(authorization) else {
            return completion(.refused(.unauthenticated(OIDCFailure.missingToken.description)))
        }
        let verifier = self.verifier
        Task { completion(OIDCIngressAuthenticator.authentication(await verifier.verify(token, audience: audience))) }
    }

    private static func authentication(_ result: Result<SenderIdentity, OIDCFailure>) -> Authentication {
        switch result {
        case .success(let sender): return .sender(sender.subject)
        case .failure(let failure): return .refused(.unauthenticated(failure.description))
        }
    }

    /// The token of `Authorization: Bearer <token>` (the scheme in any case). On the bytes:
    /// Foundation's trimming goes through UTF-16 and cost more than the rest of a request.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        var bytes = Substring(header).utf8[...]
        guard bytes.count > 7, zip(bytes.prefix(7), "bearer ".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        bytes = bytes.dropFirst(7)
        while bytes.first == 0x20 { bytes = bytes.dropFirst() }
        while bytes.last == 0x20 { bytes = bytes.dropLast() }
        return bytes.isEmpty ? nil : String(Substring(bytes))
    }
}
