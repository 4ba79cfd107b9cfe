import SluiceCloudEvents
import SluiceHTTP
import SluiceIO

/// Finds out who sent a request (OIDC sender identity). The ingress asks after decoding a
/// request's events and before storing them; what the sender may do is then the target's
/// EventPolicies' to say (`SenderPolicy`), so nothing is stored for a refused request.
public protocol IngressAuthenticator: Sendable {
    /// The answer when it is known now (a token seen before, or none at all), from the
    /// `Authorization` header's bytes in the request: no String and no closure are made for
    /// the common case. Nil: the token must be verified first (`authenticateLater`).
    func authenticateNow(authorization: UnsafeRawBufferPointer?, audience: String) -> Authentication?
    /// Verifies the token and calls `completion` from any thread.
    func authenticateLater(authorization: String?, audience: String, completion: @escaping @Sendable (Authentication) -> Void)
}

public enum Authentication: Sendable {
    /// The sender's subject (`system:serviceaccount:<ns>:<name>`).
    case sender(String)
    case refused(IngressRefusal)
}

/// Why a request was refused: 401 for a missing or bad token, 403 for a sender or event that
/// is not allowed.
public struct IngressRefusal: Error, Sendable, Equatable {
    public let status: HTTPStatus
    public let reason: String

    public init(status: HTTPStatus, reason: String) {
        self.status = status
        self.reason = reason
    }

    public static func unauthenticated(_ reason: String) -> IngressRefusal { IngressRefusal(status: HTTPStatus(code: 401), reason: reason) }
    public static func forbidden(_ reason: String) -> IngressRefusal { IngressRefusal(status: HTTPStatus(code: 403), reason: reason) }
}

/// The access check an ingress runs for one request when `--oidc` is on: who sent it (the
/// authenticator), then whether the target's `SenderPolicy` lets that sender post these
/// events. Shared by the broker and channel ingress and the KafkaSink ingress.
public struct IngressGate: Sendable {
    public let authenticator: (any IngressAuthenticator)?

    public init(authenticator: (any IngressAuthenticator)?) {
        self.authenticator = authenticator
    }

    /// What the gate says of a request. With no authenticator every request is admitted.
    public enum Answer: Sendable {
        case admitted
        case refused(IngressRefusal)
    }

    /// The answer when it is known now, as for a sender whose token was verified before; nil
    /// when the token must be verified first (`checkLater`). `authorization`: the header's
    /// bytes, valid for the call.
    public func checkNow(authorization: UnsafeRawBufferPointer?, audience: String, policy: SenderPolicy, events: [CloudEvent]) -> Answer? {
        guard let authenticator else { return .admitted }
        return authenticator.authenticateNow(authorization: authorization, audience: audience).map {
            IngressGate.answer($0, policy: policy, events: events)
        }
    }

    /// Verifies the token, then calls `completion` on `loop` with the answer.
    public func checkLater(authorization: String?, audience: String, policy: SenderPolicy, events: [CloudEvent], loop: EventLoop,
                           completion: @escaping @Sendable (Answer) -> Void) {
        guard let authenticator else { return completion(.admitted) }
        authenticator.authenticateLater(authorization: authorization, audience: audience) { authentication in
            let answer = IngressGate.answer(authentication, policy: policy, events: events)
            loop.execute { completion(answer) }
        }
    }

    private static func answer(_ authentication: Authentication, policy: SenderPolicy, events: [CloudEvent]) -> Answer {
        switch authentication {
        case .sender(let subject): return policy.refusal(subject: subject, events: events).map(Answer.refused) ?? .admitted
        case .refused(let refusal): return .refused(refusal)
        }
    }

    /// The answer to a refused request: the status with its reason, and for 401 the challenge.
    public static func response(_ refusal: IngressRefusal) -> HTTPResponse {
        let challenge: [(String, String)] = refusal.status.code == 401 ? [("WWW-Authenticate", "Bearer")] : []
        return HTTPResponse(status: refusal.status, headers: IngressAnswers.allow + challenge, text: "\(refusal.reason)\n")
    }
}
