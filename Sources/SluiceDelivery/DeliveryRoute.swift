import SluiceCloudEvents
import SluiceConfig

/// Where one source of events (a trigger, a subscription, a source) delivers, and how hard it
/// tries: what the delivery core needs besides the event. Immutable, and a class: every event
/// in flight holds the route it started with, by one reference (a reload makes a new one).
public final class DeliveryRoute: Sendable {
    public let subscriber: DeliveryTarget
    public let policy: DeliveryPolicy
    /// Where a subscriber's reply events go; nil ignores replies.
    public let replies: DeliveryTarget?
    public let options: DeliveryOptions
    /// Counters and log lines of the owner's deliveries (kept across reloads).
    public let monitor: DeliveryMonitor

    public var owner: DeliveryOwner { monitor.owner }

    public init(monitor: DeliveryMonitor, subscriber: DeliveryTarget, policy: DeliveryPolicy, replies: DeliveryTarget?,
                options: DeliveryOptions = DeliveryOptions()) {
        self.monitor = monitor
        self.subscriber = subscriber
        self.policy = policy
        self.replies = replies
        self.options = options
    }
}

/// The resource whose deliveries these are.
public struct DeliveryOwner: Sendable, Hashable, CustomStringConvertible {
    /// The resource kind in lower case, used as the log field name ("trigger", "subscription").
    public var kind: String
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(kind) \(namespace)/\(name)" }
}

/// The caller's rules for what subscribers see, beyond the CloudEvents binding.
public struct DeliveryOptions: Sendable {
    /// Header lines added to every request to the subscriber ("Name: value\r\n" each).
    public var headerLines: [UInt8] = []
    /// An extension hidden from the subscriber and put back, unchanged, on its replies (a
    /// broker's `knativebrokerttl`, so replies cannot loop forever). Dead-letter sinks see it.
    public var carriedAttribute: StaticString?
    /// Binary or structured mode toward subscribers and dead-letter sinks.
    public var format: DeliveryFormat = .binary

    public init(headerLines: [UInt8] = [], carriedAttribute: StaticString? = nil, format: DeliveryFormat = .binary) {
        self.headerLines = headerLines
        self.carriedAttribute = carriedAttribute
        self.format = format
    }

    /// Knative's broker rules: `Kn-Namespace` and the TTL hidden from subscribers.
    public static func broker(namespace: String, format: DeliveryFormat = .binary) -> DeliveryOptions {
        DeliveryOptions(headerLines: Array("Kn-Namespace: \(namespace)\r\n".utf8),
                        carriedAttribute: AttributeName.knativebrokerttl, format: format)
    }
}
