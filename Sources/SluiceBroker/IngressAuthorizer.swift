import SluiceHTTP

/// Decides whether a request may post events to a broker or channel: sender identity (OIDC)
/// and, later, EventPolicy. The ingress asks after decoding a request's events and before
/// storing them, so nothing is stored for a refused request.
public protocol IngressAuthorizer: Sendable {
    /// Decides at once when it can (a token seen before); otherwise returns `.pending` and
    /// calls `completion` later, from any thread, with nil (allowed) or the refusal.
    func authorize(authorization: String?, audience: String, namespace: String,
                   completion: @escaping @Sendable (IngressRefusal?) -> Void) -> IngressDecision
}

public enum IngressDecision: Sendable {
    case allowed
    case refused(IngressRefusal)
    case pending
}

/// Why a request was refused: 401 for a missing or bad token, 403 for a sender that is not
/// allowed.
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
