internal import CRdKafka

/// Fixes where a new consumer group starts before any member joins it, as Knative's control
/// plane does for a new trigger (`InitOffsets` in eventing-kafka-broker's
/// `control-plane/pkg/kafka/offset/offsets.go`): every partition of the topics without a
/// committed offset gets the partition's current end committed for the group.
///
/// Committing outside the group protocol (generation -1) is what makes this safe against
/// rebalances: Kafka accepts such a commit only while the group has no members, and once it
/// is in Kafka every later owner of a partition starts there. An offset merely stored at
/// assignment would be lost with a rebalance that came before the next commit, and the
/// partition's next owner would start at a later end, skipping events already accepted.
///
/// Every call waits on the cluster (up to the timeout per request): call it off the event loops.
enum KafkaGroupStart {
    enum Outcome {
        /// These partitions had no committed offset and now start at the given offsets.
        case fixed([(KafkaPartition, Int64)])
        /// Every partition already had a committed offset.
        case alreadyStarted
        /// The group has members, so Kafka refused a commit from outside it; a member already
        /// went through this before it joined.
        case groupActive
        /// The cluster did not answer, or a topic does not exist yet: try again later.
        case unanswered(KafkaError)
    }

    /// Commits the end of each partition of `topics` that the group of `handle` (a consumer
    /// not yet subscribed) has no offset for.
    static func pinAtEnd(handle: OpaquePointer, topics: [String], timeoutMilliseconds: Int32) -> Outcome {
        guard let all = rd_kafka_topic_partition_list_new(0) else { return .unanswered(KafkaError(message: "out of memory")) }
        defer { rd_kafka_topic_partition_list_destroy(all) }
        for topic in topics {
            switch KafkaTopicAdmin.partitionCount(topic, handle: handle, timeoutMilliseconds: timeoutMilliseconds) {
            case .failure(let error): return .unanswered(error)
            case .success(nil): return .unanswered(KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, reason: "topic \(topic)"))
            case .success(let count?): for partition in 0..<count { rd_kafka_topic_partition_list_add(all, topic, partition) }
            }
        }
        let code = rd_kafka_committed(handle, all, timeoutMilliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .unanswered(KafkaError(code, reason: "committed offsets")) }
        guard let pins = rd_kafka_topic_partition_list_new(all.pointee.cnt) else { return .unanswered(KafkaError(message: "out of memory")) }
        defer { rd_kafka_topic_partition_list_destroy(pins) }
        var fixed: [(KafkaPartition, Int64)] = []
        for index in 0..<Int(all.pointee.cnt) {
            let element = all.pointee.elems[index]
            guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .unanswered(KafkaError(element.err, reason: "committed offsets")) }
            guard element.offset < 0 else { continue }
            var low: Int64 = 0
            var high: Int64 = 0
            let code = rd_kafka_query_watermark_offsets(handle, element.topic, element.partition, &low, &high, timeoutMilliseconds)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .unanswered(KafkaError(code, reason: "end offsets")) }
            rd_kafka_topic_partition_list_add(pins, element.topic, element.partition).pointee.offset = high
            fixed.append((KafkaPartition(topic: String(cString: element.topic), partition: element.partition), high))
        }
        guard !fixed.isEmpty else { return .alreadyStarted }
        switch rd_kafka_commit(handle, pins, 0) {
        case RD_KAFKA_RESP_ERR_NO_ERROR: return .fixed(fixed)
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
            return .groupActive
        case let other: return .unanswered(KafkaError(other, reason: "committing the group's start"))
        }
    }
}
