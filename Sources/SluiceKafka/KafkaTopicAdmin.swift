import Logging
internal import CRdKafka

/// Creates topics and asks whether they exist, each call with a short-lived client of its
/// own. Every call waits on the cluster (up to its timeout): call it off the event loops.
public enum KafkaTopicAdmin {
    /// What the cluster said about a topic.
    public enum Answer: Equatable, Sendable {
        /// The topic exists (`created`: this call made it).
        case ready(created: Bool)
        /// The topic does not exist, and why it was not created (nil when not asked to).
        case missing(String?)
        /// No answer: the cluster is unreachable or did not answer in time.
        case unanswered(KafkaError)
    }

    /// A topic to create.
    public struct Topic: Sendable {
        public var name: String
        public var partitions: Int
        public var replicationFactor: Int
        /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
        public var config: [(key: String, value: String)]

        public init(name: String, partitions: Int, replicationFactor: Int, config: [(key: String, value: String)] = []) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.config = config
        }
    }

    /// Creates `topic` unless it exists (asked first: creating needs the cluster's
    /// controller and permission, which a running system may not give).
    public static func create(_ topic: Topic, properties: KafkaProperties, timeout: Duration = .seconds(10),
                              logger: Logger) -> Answer {
        withClient(properties, logger: logger) { handle in
            let existing = describe(topic.name, handle: handle, timeout: timeout)
            guard case .missing = existing else { return existing }
            switch createTopic(topic, handle: handle, timeout: timeout) {
            case .success: return .ready(created: true)
            case .failure(let error) where error.code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue: return .ready(created: false)
            case .failure(let error): return .missing(error.message)
            }
        }
    }

    /// Whether `topic` exists (a topic Sluice must not create, such as a user's own).
    public static func exists(_ topic: String, properties: KafkaProperties, timeout: Duration = .seconds(10), logger: Logger) -> Answer {
        withClient(properties, logger: logger) { describe(topic, handle: $0, timeout: timeout) }
    }

    private static func withClient(_ properties: KafkaProperties, logger: Logger, _ body: (OpaquePointer) -> Answer) -> Answer {
        let callbacks = KafkaCallbacks(logger: logger)
        let handle: OpaquePointer
        do {
            // A consumer-type client, whose metadata requests never create the topic they ask
            // about (`allow.auto.create.topics` is false), with no group.
            let conf = try properties.merging(KafkaProperties([("client.id", "sluice-admin"), ("allow.auto.create.topics", "false")])).makeConf()
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
            rd_kafka_conf_set_log_cb(conf, KafkaCallbacks.log)
            var text = [CChar](repeating: 0, count: 512)
            guard let created = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &text, text.count) else { return .unanswered(KafkaError(message: cString(text))) }
            handle = created
        } catch {
            return .unanswered(error)
        }
        defer { withExtendedLifetime(callbacks) { rd_kafka_destroy(handle) } }
        return body(handle)
    }

    private static func createTopic(_ topic: Topic, handle: OpaquePointer, timeout: Duration) -> Result<Void, KafkaError> {
        var text = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(topic.name, Int32(clamping: topic.partitions), Int32(clamping: topic.replicationFactor),
                                                   &text, text.count) else {
            return .failure(KafkaError(message: cString(text)))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for entry in topic.config { _ = rd_kafka_NewTopic_set_config(newTopic, entry.key, entry.value) }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        guard let queue = rd_kafka_queue_new(handle) else { return .failure(KafkaError(message: "out of memory")) }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &text, text.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &text, text.count)
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(handle, &topics, 1, options, queue)
        guard let event = rd_kafka_queue_poll(queue, milliseconds + 1000) else {
            return .failure(KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, reason: "creating topic \(topic.name)"))
        }
        defer { rd_kafka_event_destroy(event) }
        let failure = rd_kafka_event_error(event)
        if failure != RD_KAFKA_RESP_ERR_NO_ERROR {
            return .failure(KafkaError(failure, reason: rd_kafka_event_error_string(event).map { String(cString: $0) }))
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event), let results = rd_kafka_CreateTopics_result_topics(result, &count),
              count > 0, let first = results[0] else {
            return .failure(KafkaError(message: "creating topic \(topic.name): no answer for it"))
        }
        let code = rd_kafka_topic_result_error(first)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(code, reason: rd_kafka_topic_result_error_string(first).map { String(cString: $0) }))
        }
        return .success(())
    }

    private static func describe(_ topic: String, handle: OpaquePointer, timeout: Duration) -> Answer {
        switch partitionCount(topic, handle: handle, timeoutMilliseconds: Int32(clamping: timeout.components.seconds * 1000)) {
        case .success(let count): count != nil ? .ready(created: false) : .missing(nil)
        case .failure(let error): .unanswered(error)
        }
    }

    /// How many partitions `topic` has per the cluster's metadata; nil when it does not exist.
    /// Waits on the cluster: call it off the event loops.
    static func partitionCount(_ topic: String, handle: OpaquePointer, timeoutMilliseconds: Int32) -> Result<Int32?, KafkaError> {
        guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else { return .failure(KafkaError(rd_kafka_last_error())) }
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeoutMilliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return .failure(KafkaError(code, reason: "metadata of \(topic)")) }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt > 0, let topics = metadata.pointee.topics else { return .success(nil) }
        switch topics[0].err {
        case RD_KAFKA_RESP_ERR_NO_ERROR: return .success(topics[0].partition_cnt > 0 ? topics[0].partition_cnt : nil)
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return .success(nil)
        case let other: return .failure(KafkaError(other, reason: "metadata of \(topic)"))
        }
    }
}
