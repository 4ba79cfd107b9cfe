import SluiceBroker
import SluiceIdentity

/// `--oidc`: the ingress takes events only with an `Authorization: Bearer` token that the
/// verifier accepts for the target's audience (401 otherwise). With no EventPolicy (not read
/// yet), only service accounts of the target's namespace may post, as in Knative (403 for
/// others).
final class OIDCIngressAuthorizer: IngressAuthorizer {
    let verifier: OIDCVerifier

    init(verifier: OIDCVerifier) {
        self.verifier = verifier
    }

    func authorize(authorization: String?, audience: String, namespace: String,
                   completion: @escaping @Sendable (IngressRefusal?) -> Void) -> IngressDecision {
        guard let token = OIDCIngressAuthorizer.bearerToken(authorization) else {
            return .refused(.unauthenticated(OIDCFailure.missingToken.description))
        }
        if let known = verifier.cached(token, audience: audience) {
            return OIDCIngressAuthorizer.refusal(known, namespace: namespace).map(IngressDecision.refused) ?? .allowed
        }
        let verifier = self.verifier
        Task {
            let result = await verifier.verify(token, audience: audience)
            completion(OIDCIngressAuthorizer.refusal(result, namespace: namespace))
        }
        return .pending
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

    private static func refusal(_ result: Result<SenderIdentity, OIDCFailure>, namespace: String) -> IngressRefusal? {
        switch result {
        case .failure(let failure):
            return .unauthenticated(failure.description)
        case .success(let sender) where !sender.subject.hasPrefix("system:serviceaccount:\(namespace):"):
            return .forbidden("sender \(sender.subject) may not post here: with no EventPolicy only service accounts of namespace \(namespace) may")
        case .success:
            return nil
        }
    }
}
