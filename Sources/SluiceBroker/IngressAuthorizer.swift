import SluiceHTTP

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
