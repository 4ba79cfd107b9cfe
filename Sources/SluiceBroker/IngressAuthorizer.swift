import SluiceCloudEvents
import SluiceHTTP
import SluiceIO

/// Finds out who sent a request (OIDC sender identity). The ingress asks after decoding a
/// request's events and before storing them; what the sender may do is then the target's
/// EventPolicies' to say (`EventPolicies`), so nothing is stored for a refused request.
public protocol IngressAuthenticator: Sendable {
    /// Answers at once when it can (a token seen before); otherwise returns `.pending` and
    /// calls `completion` later, from any thread.
    func authenticate(authorization: String?, audience: String,
                      completion: @escaping @Sendable (Result<String, IngressRefusal>) -> Void) -> Authentication
}

public enum Authentication: Sendable {
    /// The sender's subject (`system:serviceaccount:<ns>:<name>`).
    case sender(String)
    case refused(IngressRefusal)
    case pending
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

    /// Calls `admitted` or `refused`, on `loop`: at once when the answer is known, else once
    /// the token is verified. With no authenticator every request is admitted.
    public func check(authorization: @autoclosure () -> String?, audience: String, policy: SenderPolicy, events: [CloudEvent], loop: EventLoop,
                      admitted: @escaping @Sendable () -> Void, refused: @escaping @Sendable (IngressRefusal) -> Void) {
        guard let authenticator else { return admitted() }
        let decide: @Sendable (Result<String, IngressRefusal>) -> Void = { sender in
            switch sender {
            case .success(let subject):
                if let refusal = policy.refusal(subject: subject, events: events) { return refused(refusal) }
                admitted()
            case .failure(let refusal):
                refused(refusal)
            }
        }
        switch authenticator.authenticate(authorization: authorization(), audience: audience, completion: { sender in loop.execute { decide(sender) } }) {
        case .sender(let subject): decide(.success(subject))
        case .refused(let refusal): decide(.failure(refusal))
        case .pending: break
        }
    }

    /// The answer to a refused request: the status with its reason, and for 401 the challenge.
    public static func answer(_ refusal: IngressRefusal) -> HTTPResponse {
        let challenge: [(String, String)] = refusal.status.code == 401 ? [("WWW-Authenticate", "Bearer")] : []
        return HTTPResponse(status: refusal.status, headers: IngressAnswers.allow + challenge, text: "\(refusal.reason)\n")
    }
}
