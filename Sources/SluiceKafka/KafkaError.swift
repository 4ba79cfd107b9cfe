internal import CRdKafka

/// An error from librdkafka or from handing it our configuration: its code and text, and
/// whether trying again can help. The one error type of the Kafka layer.
public struct KafkaError: Error, Sendable, CustomStringConvertible, Equatable {
    /// librdkafka's `rd_kafka_resp_err_t` (negative: the client's own errors, positive: the
    /// broker's), or 0 for a configuration problem found before librdkafka ran.
    public let code: Int32
    public let message: String
    /// Whether the same operation may succeed later (a broker down, a full queue).
    public let isRetriable: Bool
    /// Whether the client instance is unusable from now on (an idempotent producer's fatal
    /// error): it must be recreated.
    public let isFatal: Bool

    public init(code: Int32 = 0, message: String, isRetriable: Bool = false, isFatal: Bool = false) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    init(_ code: rd_kafka_resp_err_t, reason: String? = nil) {
        let text = String(cString: rd_kafka_err2str(code))
        self.init(code: code.rawValue, message: reason.map { "\($0) (\(text))" } ?? text,
                  isRetriable: KafkaError.retriable.contains(code.rawValue))
    }

    public var description: String { message }

    /// The producer's queue is full: back off and retry.
    public var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }
    /// No broker of the cluster can be reached.
    public var isAllBrokersDown: Bool { code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue }

    /// Codes where waiting helps: the network, a leader moving, a full local queue, timeouts.
    private static let retriable: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__RESOLVE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
    ].reduce(into: Set<Int32>()) { $0.insert($1.rawValue) }
}

/// The text librdkafka wrote into an error buffer.
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { pointer in pointer.baseAddress.map { String(cString: $0) } ?? "" }
}
