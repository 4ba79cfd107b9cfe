import Dispatch
import Logging
import SluiceIO
internal import CRdKafka

/// Reads every partition of one topic from its beginning, and keeps reading, on one event
/// loop, without joining a consumer group: for a small compacted topic that every process
/// replays in full (the Kafka-class brokers' retry state). `whenCaughtUp` says when everything
/// the topic held at the time of the call has been read.
///
/// The blocking questions to the cluster (which partitions, where they end) are asked on a
/// private serial queue, never on the loop.
public final class KafkaTopicReader: @unchecked Sendable {  // records and barriers confined to the loop
    private struct Barrier {
        /// Per partition, the end to read up to (empty partitions left out).
        let ends: [Int32: Int64]
        let deadline: UInt64
        let body: @Sendable () -> Void
    }

    public let topic: String
    private let client: KafkaClient
    private let received: (KafkaRecord) -> Void
    private let logger: Logger
    private let questions = DispatchQueue(label: "sluice.kafka.topic-reader")
    // On `questions`.
    private var assignedCount: Int32 = 0
    private var closed = false
    // On the loop.
    private var barriers: [Barrier] = []
    private var checkScheduled = false
    private var closing = false
    /// How long a barrier waits for the topic before giving up (and letting its caller go on).
    private let patience: Duration = .seconds(10)

    /// `received` is called on the loop for each record, in offset order per partition.
    public init(properties: KafkaProperties, topic: String, loop: EventLoop, logger: Logger,
                received: @escaping (KafkaRecord) -> Void) throws(KafkaError) {
        // A group id is required to assign partitions; the reader never joins it nor commits.
        let own = KafkaProperties([("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
                                   ("group.id", "sluice-topic-reader"), ("auto.offset.reset", "earliest"),
                                   ("queued.max.messages.kbytes", "1024"), ("fetch.wait.max.ms", "100")])
        client = try KafkaClient(kind: RD_KAFKA_CONSUMER, properties: own.merging(properties), loop: loop, logger: logger)
        self.topic = topic
        self.received = received
        self.logger = logger
        client.start { [weak self] in self?.serve() }
        questions.async { [self] in if !closed { _ = assignNewPartitions() } }
    }

    /// Runs `body` (on the loop) once the reader has read up to where each partition ended
    /// when asked, or after ten seconds of trying (logged): a caller never waits forever on
    /// a topic it cannot read.
    public func whenCaughtUp(_ body: @escaping @Sendable () -> Void) {
        questions.async { [self] in
            guard !closed else { return body() }
            let partitions = assignNewPartitions()
            var ends: [Int32: Int64] = [:]
            for partition in 0..<partitions {
                var low: Int64 = 0
                var high: Int64 = 0
                let code = rd_kafka_query_watermark_offsets(client.handle, topic, partition, &low, &high, 5000)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.warning("cannot read where \(topic)/\(partition) ends: \(KafkaError(code))")
                } else if high > low {
                    ends[partition] = high
                }
            }
            let barrier = Barrier(ends: ends, deadline: Monotonic.now() &+ UInt64(patience.components.seconds) * 1_000_000_000, body: body)
            client.loop.execute { [self] in
                barriers.append(barrier)
                checkBarriers()
            }
        }
    }

    /// Stops reading and releases the client in the background, after any question being
    /// asked (which uses the client) has its answer.
    public func close() {
        questions.async { [self] in
            closed = true
            client.loop.execute { [self] in
                closing = true
                for barrier in barriers { barrier.body() }
                barriers.removeAll()
                client.close(finish: { _ in }, done: {})
            }
        }
    }

    // MARK: On the loop

    private func serve() {
        var taken = 0
        while !closing, taken < 256, let message = rd_kafka_consumer_poll(client.handle, 0) {
            defer { rd_kafka_message_destroy(message) }
            taken += 1
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR { received(KafkaRecord(message: message)) }
        }
        if taken == 256 { client.serveAgainSoon() }
        if !barriers.isEmpty { checkBarriers() }
    }

    private func checkBarriers() {
        guard !closing else { return }
        let now = Monotonic.now()
        barriers.removeAll { barrier in
            if barrier.ends.allSatisfy({ position(of: $0.key) >= $0.value }) {
                barrier.body()
                return true
            }
            guard now >= barrier.deadline else { return false }
            logger.warning("gave up waiting to read \(topic) to its end; going on without the rest")
            barrier.body()
            return true
        }
        // Positions move as records are taken, and when a fetch finds nothing new: look again.
        if !barriers.isEmpty && !checkScheduled {
            checkScheduled = true
            client.loop.schedule(after: .milliseconds(20)) { [weak self] in
                guard let self else { return }
                checkScheduled = false
                checkBarriers()
            }
        }
    }

    /// The offset of the next record the reader will take from `partition` (-1 before the
    /// first fetch).
    private func position(of partition: Int32) -> Int64 {
        guard let list = rd_kafka_topic_partition_list_new(1) else { return -1 }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, partition)
        guard rd_kafka_position(client.handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return -1 }
        return list.pointee.elems[0].offset
    }

    // MARK: On `questions`

    /// Asks the cluster how many partitions the topic has and, when there are new ones,
    /// assigns them from their beginning (the others keep their positions). Returns the count.
    private func assignNewPartitions() -> Int32 {
        let count = partitionCount()
        guard count > assignedCount, let list = rd_kafka_topic_partition_list_new(count) else { return assignedCount }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in 0..<count {
            let current = partition < assignedCount ? position(of: partition) : -1
            rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = current >= 0 ? current : Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let code = rd_kafka_assign(client.handle, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.warning("cannot read \(topic): \(KafkaError(code))")
            return assignedCount
        }
        assignedCount = count
        return count
    }

    /// The topic's partitions per the cluster's metadata; 0 when it does not exist or the
    /// cluster cannot be asked.
    private func partitionCount() -> Int32 {
        let count = try? KafkaTopicAdmin.partitionCount(topic, handle: client.handle, timeoutMilliseconds: 5000).get()
        return (count ?? nil) ?? 0
    }
}
