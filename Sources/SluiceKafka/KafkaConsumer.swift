import Dispatch
import Glibc
import Logging
import SluiceIO
import Synchronization
internal import CRdKafka

/// A partition of a topic.
public struct KafkaPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)/\(partition)" }
}

/// A group consumer (one `rd_kafka_t`) served on one event loop: records, rebalances, commit
/// results and errors reach its delegate on that loop. Offsets are committed only as the
/// owner stores them (`enable.auto.offset.store=false`): librdkafka commits the stored
/// offsets every `auto.commit.interval.ms`, when partitions are revoked and when it closes.
/// The interval is short (250 ms) because the commit at revocation can come too late: once a
/// rebalance has begun a coordinator may refuse commits (librdkafka's mock cluster does), and
/// what was delivered but not committed is delivered again by the next owner.
public final class KafkaConsumer: @unchecked Sendable {  // confined to its loop until `close`
    /// Hears the consumer, on its loop.
    public protocol Delegate: AnyObject {
        /// A record; its bytes are valid only during the call.
        func received(_ record: KafkaRecord)
        /// False to leave records in librdkafka's queue (which stops fetching at its bound)
        /// until `serveAgain`.
        var acceptsRecords: Bool { get }
        /// The group gave this consumer `partitions` (before any of their records arrive).
        func assigned(_ partitions: [KafkaPartition])
        /// `partitions` are taken away: their offsets stored so far are committed next.
        func revoked(_ partitions: [KafkaPartition])
        /// A commit finished (nil: it succeeded).
        func committed(_ error: KafkaError?)
        func failed(_ error: KafkaError)
    }

    let client: KafkaClient
    private let topics: [String]
    private let group: String
    weak var delegate: (any Delegate)?
    /// Set before the instance leaves the loop: later rebalances (while closing) only unassign.
    var closing = false
    /// Records served per wake-up before the loop's other work gets a turn.
    let batch = 256
    /// Records taken since the queue was last empty, and how many make a drain long enough to
    /// mean librdkafka's queue was full.
    private var takenSinceEmpty = 0
    private var totalTaken = 0
    private let wakeAfter = 1000
    /// Partitions the owner paused (a seek would not resume them, but they need no wake-up).
    private var pausedPartitions: Set<KafkaPartition> = []
    /// While the owner takes no records (`KafkaConsumer+Saturation`): whether it is so and
    /// since when, whether a keep-alive timer is pending, the partitions paused to keep polling,
    /// and how often to poll.
    var saturated = false
    var saturatedSince: UInt64 = 0
    var keepAlivePending = false
    var idlePaused: Set<KafkaPartition> = []
    let keepAliveMilliseconds: Int
    /// Where a new group's start is fixed before the consumer joins (`KafkaGroupStart`), one
    /// attempt at a time; closing waits for an attempt in progress and stops the next.
    private let starter = DispatchQueue(label: "sluice.kafka.group-start")
    private let startCancelled = Atomic<Bool>(false)

    /// Settings every consumer gets: offsets stored by the owner only after delivery,
    /// committed four times a second; fetches of at most 64 KB per partition and 1 MB in all,
    /// and a prefetch of 512 KB. Small fetches keep a consumer that is behind small (librdkafka
    /// holds a whole fetch response while any of its records waits), and `wakeFetchers` keeps it
    /// fast: on the mock cluster with 300-byte records and 16 partitions, unordered delivery ran
    /// at 33-68k events/s with these (`benchmarks/kafka.sh` and probes, run to run on a noisy
    /// VM), the same spread as with 128 KB per partition and librdkafka's 50 MB fetch, with about
    /// 1 MB less heap under load. 32 KB and 256 KB halve the heap again but ran at 24-45k. An
    /// 8 MB prefetch without the wake-up managed 55k at three times the memory, and 1 MB without
    /// it a few thousand.
    public static let defaults = KafkaProperties([
        ("enable.auto.commit", "true"), ("enable.auto.offset.store", "false"), ("auto.commit.interval.ms", "250"),
        ("queued.max.messages.kbytes", "512"), ("max.partition.fetch.bytes", "65536"), ("fetch.max.bytes", "1000000"),
        ("fetch.wait.max.ms", "100"), ("socket.keepalive.enable", "true"),
    ])

    public init(properties: KafkaProperties, topics: [String], loop: EventLoop, logger: Logger) throws(KafkaError) {
        var merged = KafkaConsumer.defaults.merging(properties)
        // librdkafka wants a fetch to hold its largest message: a user's larger
        // `message.max.bytes` raises the small default fetch with it.
        if properties["fetch.max.bytes"] == nil, let largest = merged["message.max.bytes"].flatMap(Int.init), largest > 1_000_000 {
            merged["fetch.max.bytes"] = String(largest)
        }
        // A third of the interval after which librdkafka takes a member that stopped polling
        // out of its group, so two polls fit in it whatever the timer's slack.
        let maxPollInterval = merged["max.poll.interval.ms"].flatMap(Int.init) ?? 300_000
        keepAliveMilliseconds = max(100, min(30_000, maxPollInterval / 3))
        client = try KafkaClient(kind: RD_KAFKA_CONSUMER, properties: merged, loop: loop, logger: logger)
        self.topics = topics
        group = properties["group.id"] ?? ""
    }

    public var loop: EventLoop { client.loop }

    /// Before joining, commit the end of every partition the group has no offset for, as
    /// Knative does for a new trigger, so the trigger owes every event accepted after it
    /// started, whatever the rebalances and restarts. A partition given to the consumer without
    /// an offset even so (one added to the topic later) starts at its end, stored at
    /// assignment. Set before `start`.
    public var startsNewGroupsAtEnd = false

    /// Joins the group and starts delivering to `delegate` (kept weakly).
    public func start(delegate: any Delegate) {
        self.delegate = delegate
        // While closing, librdkafka calls back on the closing thread: the delegate, confined
        // to the loop, no longer hears anything.
        client.callbacks.onError = { [weak self] error in
            guard let self, !closing else { return }
            self.delegate?.failed(error)
        }
        client.callbacks.onRebalance = { [weak self] handle, code, partitions in self?.rebalance(handle, code, partitions) }
        client.callbacks.onCommit = { [weak self] code, _ in
            // _NO_OFFSET: nothing was stored since the last commit, not a failure.
            guard let self, !closing, code != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
            self.delegate?.committed(code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(code))
        }
        if startsNewGroupsAtEnd { fixGroupStart(attempt: 0) } else { loop.execute { [self] in subscribe() } }
    }

    /// Joins the group (on the loop).
    private func subscribe() {
        guard !closing else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let code = rd_kafka_subscribe(client.handle, list)
        rd_kafka_topic_partition_list_destroy(list)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { delegate?.failed(KafkaError(code, reason: "subscribe")) }
        client.start { [weak self] in self?.serve() }
    }

    /// Fixes the group's start, then joins; while the cluster does not answer (or the topic
    /// is not there yet), tries again, backing off up to 10 s.
    private func fixGroupStart(attempt: Int) {
        starter.async { [self] in
            guard !startCancelled.load(ordering: .relaxed) else { return }
            let logger = client.callbacks.logger
            switch KafkaGroupStart.pinAtEnd(handle: client.handle, topics: topics, timeoutMilliseconds: 5000) {
            case .fixed(let pins):
                logger.info("consumer group starts at the end of its topics",
                            metadata: ["group": "\(group)", "offsets": "\(pins.map { "\($0.0)@\($0.1)" }.joined(separator: ","))"])
            case .alreadyStarted, .groupActive:
                break
            case .unanswered(let error):
                logger.log(level: attempt % 10 == 0 ? .warning : .debug, "consumer group's start not fixed yet; joining once it is",
                           metadata: ["group": "\(group)", "reason": "\(error)"])
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(min(10_000, 250 << min(attempt, 6)))) { [self] in
                    fixGroupStart(attempt: attempt + 1)
                }
                return
            }
            loop.execute { [self] in subscribe() }
        }
    }

    private func serve() {
        for _ in 0..<batch {
            guard !closing else { return }
            guard delegate?.acceptsRecords != false else { return becameSaturated() }
            guard let message = rd_kafka_consumer_poll(client.handle, 0) else { return drained() }
            defer { rd_kafka_message_destroy(message) }
            let code = message.pointee.err
            if code == RD_KAFKA_RESP_ERR_NO_ERROR {
                takenSinceEmpty += 1
                totalTaken &+= 1
                delegate?.received(KafkaRecord(message: message))
            } else if code != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                let reason = message.pointee.payload.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
                delegate?.failed(KafkaError(code, reason: reason))
            }
        }
        client.serveAgainSoon()
    }

    /// The queue ran empty after a long drain: librdkafka may have stopped fetching when the
    /// queue reached `queued.max.messages.kbytes`, and librdkafka 2.0 looks again only when a
    /// partition's broker thread next wakes, up to a second later. If nothing arrives within a
    /// few milliseconds, an asynchronous seek of each partition to the consumer's own position
    /// wakes those threads; the queue being empty, it repeats and skips nothing. (Fetches
    /// already on their way would be dropped by the seek, hence the wait.)
    private func drained() {
        defer { takenSinceEmpty = 0 }
        guard takenSinceEmpty >= wakeAfter else { return }
        let taken = totalTaken
        loop.schedule(after: .milliseconds(5)) { [weak self] in
            guard let self, !closing, totalTaken == taken else { return }
            wakeFetchers()
        }
    }

    private func wakeFetchers() {
        var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(client.handle, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else { return }
        defer { rd_kafka_topic_partition_list_destroy(assignment) }
        guard rd_kafka_position(client.handle, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let elements = assignment.pointee.elems,
              let seeks = rd_kafka_topic_partition_list_new(assignment.pointee.cnt) else { return }
        defer { rd_kafka_topic_partition_list_destroy(seeks) }
        for index in 0..<Int(assignment.pointee.cnt) where elements[index].offset >= 0 {
            let topic = String(cString: elements[index].topic)
            let partition = KafkaPartition(topic: topic, partition: elements[index].partition)
            if pausedPartitions.contains(partition) || idlePaused.contains(partition) { continue }
            rd_kafka_topic_partition_list_add(seeks, elements[index].topic, elements[index].partition).pointee.offset = elements[index].offset
        }
        if seeks.pointee.cnt > 0, let error = rd_kafka_seek_partitions(client.handle, seeks, 0) { rd_kafka_error_destroy(error) }
    }

    private func rebalance(_ handle: OpaquePointer, _ code: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let partitions = KafkaConsumer.partitions(list)
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            let pinned = startsNewGroupsAtEnd && !closing ? pinUncommittedToEnd(handle, list) : nil
            if !closing { delegate?.assigned(partitions) }
            if cooperative { rd_kafka_error_destroy(rd_kafka_incremental_assign(handle, list)) } else { rd_kafka_assign(handle, list) }
            if !idlePaused.isEmpty { pauseWhileSaturated(partitions) }
            if let pinned {
                if pinned.pointee.cnt > 0 { _ = rd_kafka_offsets_store(handle, pinned) }
                rd_kafka_topic_partition_list_destroy(pinned)
            }
        } else {
            if !closing { delegate?.revoked(partitions) }
            idlePaused.subtract(partitions)
            if cooperative { rd_kafka_error_destroy(rd_kafka_incremental_unassign(handle, list)) } else { rd_kafka_assign(handle, nil) }
        }
    }

    /// Sets each partition of `list` to the group's committed offset, or to the partition's
    /// end when there is none; returns those set to the end (to store once assigned). Blocks
    /// on the cluster for a moment, at a rebalance only; a partition it cannot ask about keeps
    /// `auto.offset.reset`.
    private func pinUncommittedToEnd(_ handle: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
        -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? {
        guard let list, let elements = list.pointee.elems, let pinned = rd_kafka_topic_partition_list_new(list.pointee.cnt) else { return nil }
        guard rd_kafka_committed(handle, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR else { return pinned }
        for index in 0..<Int(list.pointee.cnt) where elements[index].offset < 0 && elements[index].err == RD_KAFKA_RESP_ERR_NO_ERROR {
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_query_watermark_offsets(handle, elements[index].topic, elements[index].partition, &low, &high, 5000)
                    == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            elements[index].offset = high
            rd_kafka_topic_partition_list_add(pinned, elements[index].topic, elements[index].partition).pointee.offset = high
        }
        return pinned
    }

    static func partitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaPartition] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { KafkaPartition(topic: String(cString: elements[$0].topic), partition: elements[$0].partition) }
    }

    // MARK: Flow control and offsets (on the loop)

    /// Takes records again after the delegate stopped accepting them: no wake-up comes from
    /// librdkafka for a queue that stayed non-empty.
    public func serveAgain() {
        if saturated { endSaturation() }
        client.serveAgainSoon()
    }

    /// Records the next offset to commit for `partition` (the record after the last one done).
    public func store(_ partition: KafkaPartition, nextOffset: Int64) {
        withList([partition]) { list in
            list.pointee.elems[0].offset = nextOffset
            _ = rd_kafka_offsets_store(client.handle, list)
        }
    }

    func isPausedByOwner(_ partition: KafkaPartition) -> Bool { pausedPartitions.contains(partition) }

    /// Stops fetching `partition` (records already fetched may still arrive) or starts again.
    public func pause(_ partition: KafkaPartition) {
        pausedPartitions.insert(partition)
        // Paused already while saturated: from now on the owner's to resume.
        if idlePaused.remove(partition) != nil { return }
        withList([partition]) { _ = rd_kafka_pause_partitions(client.handle, $0) }
    }

    public func resume(_ partition: KafkaPartition) {
        pausedPartitions.remove(partition)
        // Stays paused until the owner takes records again.
        if saturated && !idlePaused.isEmpty {
            idlePaused.insert(partition)
            return
        }
        withList([partition]) { _ = rd_kafka_resume_partitions(client.handle, $0) }
    }

    /// Records in the partition after the consumer's position, from the last fetch's high
    /// watermark (no request to the cluster); nil before anything was fetched.
    public func lag(_ partition: KafkaPartition) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        guard rd_kafka_get_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
              high >= 0 else { return nil }
        var position: Int64 = -1
        withList([partition]) { list in
            if rd_kafka_position(client.handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR { position = list.pointee.elems[0].offset }
        }
        return position >= 0 ? max(0, high - position) : nil
    }

    func withList(_ partitions: [KafkaPartition], _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void) {
        guard let list = rd_kafka_topic_partition_list_new(Int32(partitions.count)) else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in partitions { rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition) }
        body(list)
    }

    /// Leaves the group: commits the stored offsets and closes, on a background thread (where
    /// closing may wait for the group coordinator). Call on the loop; `done` runs after.
    public func close(done: @escaping @Sendable () -> Void = {}) {
        closing = true
        startCancelled.store(true, ordering: .relaxed)
        let starter = starter
        let logger = client.callbacks.logger
        // The closing thread holds the consumer: librdkafka calls its rebalance handler while
        // it closes, and waits until that handler has unassigned.
        client.close(finish: { [self] handle in
            _ = self
            starter.sync {}
            let code = rd_kafka_consumer_close(handle)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("Kafka consumer closed with an error: \(KafkaError(code))") }
        }, done: done)
    }
}

/// One consumed record, borrowed from librdkafka for the duration of a delegate call.
public struct KafkaRecord {
    private let message: UnsafeMutablePointer<rd_kafka_message_t>

    init(message: UnsafeMutablePointer<rd_kafka_message_t>) {
        self.message = message
    }

    public var topic: String { String(cString: rd_kafka_topic_name(message.pointee.rkt)) }
    /// The topic handle's identity: the same for every record of a topic in one consumer, so
    /// a caller can cache what it derives from the topic name.
    public var topicIdentity: UnsafeRawPointer { UnsafeRawPointer(message.pointee.rkt) }
    public var partition: Int32 { message.pointee.partition }
    public var offset: Int64 { message.pointee.offset }

    /// Milliseconds since the epoch (create or log-append time); nil when the record has none.
    public var timestamp: Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let value = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || value < 0 ? nil : value
    }

    /// The key; nil when the record has none.
    public var key: UnsafeRawBufferPointer? {
        message.pointee.key.map { UnsafeRawBufferPointer(start: $0, count: message.pointee.key_len) }
    }

    /// The value; nil for a null value.
    public var value: UnsafeRawBufferPointer? {
        message.pointee.payload.map { UnsafeRawBufferPointer(start: $0, count: message.pointee.len) }
    }

    /// Calls `body` with each header's name and value, in order.
    public func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let name {
                body(UnsafeRawBufferPointer(start: name, count: strlen(name)), UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : size))
            }
            index += 1
        }
    }
}
