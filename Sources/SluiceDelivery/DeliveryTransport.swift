import SluiceCloudEvents
import SluiceConfig
import SluiceHTTP

/// How one delivery request leaves the process: the seam between the delivery core and the
/// network. `HTTPDeliveryTransport` POSTs with the pooled client; tests answer in-process.
public protocol DeliveryTransport: AnyObject, Sendable {
    /// Sends `request` and calls `completion` with the answer on the scheduler the core runs
    /// on (the loop the transport belongs to).
    func send(_ request: DeliveryRequest, completion: @escaping @Sendable (DeliveryAnswer) -> Void)
}

/// An event on its way to an HTTP destination. Immutable, and a class: the transport hands
/// it to the connection as is (it writes its own headers), with no copies on the way.
public final class DeliveryRequest: Sendable {
    public let event: CloudEvent
    public let url: HTTPURL
    public let timeout: Duration
    public let format: DeliveryFormat
    /// Sends `Prefer: reply` (to subscribers, not to dead-letter sinks).
    public let preferReply: Bool
    /// Decodes reply events from a 2xx answer (when someone takes replies).
    public let decodesReply: Bool
    /// Header lines ("Name: value\r\n") sent as they are, such as Knative's `Kn-Namespace`.
    public let headerLines: [UInt8]
    /// An extension attribute left out of the request (the broker's TTL, hidden from
    /// subscribers).
    public let hiddenAttribute: StaticString?

    public init(event: CloudEvent, url: HTTPURL, timeout: Duration, format: DeliveryFormat = .binary, preferReply: Bool,
                decodesReply: Bool, headerLines: [UInt8] = [], hiddenAttribute: StaticString? = nil) {
        self.event = event
        self.url = url
        self.timeout = timeout
        self.format = format
        self.preferReply = preferReply
        self.decodesReply = decodesReply
        self.headerLines = headerLines
        self.hiddenAttribute = hiddenAttribute
    }
}

/// What came back from a destination.
public enum DeliveryAnswer: Sendable {
    /// An HTTP answer. `reply` holds the events a 2xx answer carried, when the request expected
    /// a reply.
    case response(status: Int, body: [UInt8], retryAfter: Duration?, reply: Reply)
    /// No answer: the destination could not be reached, the connection failed or it timed out.
    /// `permanent`: trying again cannot help (its TLS certificate does not verify).
    case unreachable(reason: String, permanent: Bool = false)

    public enum Reply: Sendable {
        case none
        case events([CloudEvent])
        /// The answer claimed to carry an event but it did not decode.
        case invalid(reason: String)
    }
}
