import SluiceCloudEvents
import SluiceHTTP

/// Where a delivery goes: an HTTP endpoint, or a sink in this process (a Broker ref resolves
/// to its ingress directly, with no HTTP hop).
public enum DeliveryTarget: Sendable, CustomStringConvertible {
    case http(HTTPURL)
    case local(any EventSink)

    public var description: String {
        switch self {
        case .http(let url): return url.description
        case .local(let sink): return sink.address
        }
    }
}

/// Something in this process that accepts events, such as a broker's ingress.
public protocol EventSink: Sendable {
    /// How to name it in logs and in `knativeerrordest`.
    var address: String { get }
    /// Takes `events`; `completion` says whether they were stored (nil) or why not. It may be
    /// called before `accept` returns.
    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void)
}

/// Why a sink refused events, as an HTTP status for the dead-letter extensions.
public struct SinkRejection: Error, Sendable {
    public let status: Int
    public let reason: String
    /// Whether trying again later can help (a full broker) or not (a loop stopped by its TTL).
    public let retryable: Bool

    public init(status: Int, reason: String, retryable: Bool) {
        self.status = status
        self.reason = reason
        self.retryable = retryable
    }
}
