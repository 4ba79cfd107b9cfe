import DequeModule
import Logging
import SluiceCloudEvents
import SluiceCloudEventsKafka
import SluiceDelivery
import SluiceIO
import SluiceKafka
import SluiceStorage

/// One consumer of a KafkaSource (its `consumers` make several, each on a loop): takes records,
/// turns them into events and delivers them through the delivery core, then stores the offset
/// to commit. Ordered mode keeps one record of a partition in flight at a time (retries
/// included); unordered mode a bounded window per partition.
///
/// Memory stays small however far the subscriber falls behind: the consumer stops taking
/// records from librdkafka while `limits.total` wait here (librdkafka then stops fetching at its
/// own bound). A partition that holds `limits.partition` waiting records and has finished
/// nothing for `stuckAfter` (a subscriber failing in ordered mode) is paused, and its records
/// stop counting toward the total, so the other partitions keep flowing. Pausing is for that
/// case only: librdkafka drops a paused partition's prefetched records and fetches them again
/// on resume, so pausing at every burst would throw prefetched data away each time.
///
/// Confined to its loop: librdkafka calls back on it, and the delivery core answers on it.
final class KafkaSourceConsumer: KafkaConsumer.Delegate, Deliverer.Owner, @unchecked Sendable {
    /// One assigned partition while it stays assigned; a new assignment makes a new one, so a
    /// delivery that finishes after its partition left is recognised and ignored.
    private final class Partition {
        let id: KafkaPartition
        var waiting: Deque<StoredEvent> = []
        var inFlight = 0
        var tracker = CommitTracker()
        var paused = false
        var revoked = false
        /// Whether it waits in `starved` for the consumer's in-flight bound to free up.
        var starved = false
        /// When a record of the partition last finished (monotonic nanoseconds).
        var lastProgress = Monotonic.now()

        init(_ id: KafkaPartition) {
            self.id = id
        }
    }

    /// A record's partition in `StoredEvent.position.partition`: an index into `slots`.
    private struct PartitionKey: Hashable {
        let topic: UnsafeRawPointer
        let partition: Int32
    }

    private let consumer: KafkaConsumer
    private let deliverer: Deliverer
    private let runtime: KafkaSourceRuntime
    private let window: Int
    private let limits: Limits
    /// Records of unpaused partitions taken from librdkafka and not yet handed to the delivery
    /// core.
    private var waiting = 0
    /// False while `waiting` is at `limits.total`: librdkafka's queue keeps the rest.
    private var taking = true

    /// How many records wait before the consumer stops taking them, in all and per partition.
    struct Limits {
        var total = 256
        var partition = 256
        var stuckAfter: UInt64 = 1_000_000_000
        /// Deliveries in flight across the consumer's partitions (each partition also keeps
        /// to its window): what bounds the connections to the subscriber.
        var inFlight = 32
    }
    /// Partitions with records waiting that the in-flight bound held back, oldest first.
    private var starved: Deque<Partition> = []
    private var decoder: KafkaEventDecoder
    private var slots: [Partition] = []
    private var slotByKey: [PartitionKey: Int32] = [:]
    private var sourceByTopic: [UnsafeRawPointer: (name: String, source: String)] = [:]
    private var inFlight = 0
    private var stopping = false
    /// Set when librdkafka reported an error; the next record says the cluster answers again.
    private var failing = false
    private var drained: (() -> Void)?

    init(consumer: KafkaConsumer, deliverer: Deliverer, runtime: KafkaSourceRuntime, window: Int, limits: Limits = Limits()) {
        self.consumer = consumer
        self.deliverer = deliverer
        self.runtime = runtime
        self.window = window
        self.limits = limits
        decoder = KafkaEventDecoder(keyType: runtime.keyType, prepare: runtime.makeOverrides())
    }

    var loop: EventLoop { consumer.loop }

    func start() {
        consumer.start(delegate: self)
    }

    // MARK: KafkaConsumer.Delegate

    func received(_ record: KafkaRecord) {
        guard !stopping else { return }
        let slot = self.slot(topic: record.topicIdentity, partition: record.partition) {
            KafkaPartition(topic: record.topic, partition: record.partition)
        }
        let partition = slots[Int(slot)]
        let topic = topicNames(record)
        var headers: [KafkaRecordHeader] = []
        record.forEachHeader { headers.append(KafkaRecordHeader(name: $0, value: $1)) }
        let origin = KafkaEventDecoder.Origin(source: topic.source, partition: record.partition, offset: record.offset, timestamp: record.timestamp)
        let decoded = decoder.decode(key: record.key, value: record.value, headers: headers, origin: origin)
        runtime.metrics.consumed.increment()
        if failing {
            failing = false
            runtime.reachable()
        }
        if case .wrapped(_, let reason?) = decoded {
            runtime.metrics.wrapped.increment()
            runtime.invalidLog.record { suppressed in
                runtime.logger.info("record is not a valid CloudEvent; delivering it wrapped", metadata: [
                    "partition": "\(partition.id)", "offset": "\(record.offset)", "reason": "\(reason)", "suppressed": "\(suppressed)",
                ])
            }
        }
        partition.tracker.taken(record.offset)
        partition.waiting.append(StoredEvent(event: decoded.event, position: StreamPosition(partition: slot, offset: UInt64(bitPattern: record.offset)),
                                             arrivedAt: Monotonic.now()))
        if !partition.paused { waiting += 1 }
        pump(partition)
        if partition.waiting.count >= limits.partition && !partition.paused && Monotonic.now() &- partition.lastProgress > limits.stuckAfter {
            partition.paused = true
            waiting -= partition.waiting.count
            consumer.pause(partition.id)
        }
        if waiting >= limits.total { taking = false }
    }

    var acceptsRecords: Bool { taking }

    func assigned(_ partitions: [KafkaPartition]) {
        runtime.reachable()
        runtime.logger.info("partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])
    }

    func revoked(_ partitions: [KafkaPartition]) {
        runtime.logger.info("partitions revoked", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])
        let gone = Set(partitions)
        for (key, slot) in slotByKey where gone.contains(slots[Int(slot)].id) {
            let partition = slots[Int(slot)]
            // What waits is dropped (its offsets were not stored, so the next owner delivers
            // it); what is in flight finishes, and may be delivered again by the next owner.
            partition.revoked = true
            if !partition.paused { waiting -= partition.waiting.count }
            partition.waiting.removeAll()
            slotByKey.removeValue(forKey: key)
            runtime.metrics.forget(partition.id)
        }
    }

    func committed(_ error: KafkaError?) {
        guard let error else { return }
        runtime.metrics.commitFailures.increment()
        runtime.logger.warning("offset commit failed: \(error)")
    }

    func failed(_ error: KafkaError) {
        failing = true
        runtime.consumerFailed(error)
    }

    // MARK: Delivery

    private func pump(_ partition: Partition) {
        while partition.inFlight < window, !stopping, !partition.waiting.isEmpty {
            guard inFlight < limits.inFlight else {
                if !partition.starved {
                    partition.starved = true
                    starved.append(partition)
                }
                break
            }
            let next = partition.waiting.removeFirst()
            partition.inFlight += 1
            inFlight += 1
            if !partition.paused { waiting -= 1 }
            deliverer.deliver(next, route: runtime.route, owner: self)
        }
        if partition.paused && partition.waiting.count <= limits.partition / 4 {
            partition.paused = false
            waiting += partition.waiting.count
            consumer.resume(partition.id)
        }
        if !taking && waiting <= limits.total / 2 && !stopping {
            taking = true
            consumer.serveAgain()
        }
    }

    /// Hands the in-flight room a delivery freed to the partitions that waited for it.
    private func pumpStarved() {
        while inFlight < limits.inFlight, let partition = starved.popFirst() {
            partition.starved = false
            if !partition.revoked { pump(partition) }
        }
    }

    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {}

    func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        inFlight -= 1
        let partition = slots[Int(event.position.partition)]
        partition.inFlight -= 1
        partition.lastProgress = Monotonic.now()
        if !partition.revoked, let next = partition.tracker.finished(Int64(bitPattern: event.position.offset)) {
            consumer.store(partition.id, nextOffset: next)
        }
        if stopping {
            if inFlight == 0, let drained {
                self.drained = nil
                drained()
            }
            return
        }
        if !partition.revoked { pump(partition) }
        pumpStarved()
    }

    // MARK: Lifecycle (on the loop)

    /// Stops taking records, lets deliveries in flight finish (at most `grace`), then leaves the
    /// group, committing what was delivered. `done` runs once the consumer is closed.
    func stop(grace: Duration, done: @escaping @Sendable () -> Void) {
        stopping = true
        for partition in slots { partition.waiting.removeAll() }
        waiting = 0
        var closed = false
        let close = { [self] in
            guard !closed else { return }
            closed = true
            consumer.close(done: done)
        }
        if inFlight == 0 { return close() }
        drained = close
        loop.schedule(after: grace) { [self] in
            if inFlight > 0 { runtime.logger.warning("stopping with \(inFlight) records in flight; they will be delivered again") }
            close()
        }
    }

    /// Reports each assigned partition's lag (on the loop).
    func collectLag() {
        for slot in slotByKey.values {
            let partition = slots[Int(slot)]
            if let lag = consumer.lag(partition.id) { runtime.metrics.lag(partition.id, lag) }
        }
    }

    // MARK: Lookups

    private func slot(topic: UnsafeRawPointer, partition: Int32, _ make: () -> KafkaPartition) -> Int32 {
        let key = PartitionKey(topic: topic, partition: partition)
        if let slot = slotByKey[key] { return slot }
        let slot = Int32(slots.count)
        slots.append(Partition(make()))
        slotByKey[key] = slot
        return slot
    }

    private func topicNames(_ record: KafkaRecord) -> (name: String, source: String) {
        if let known = sourceByTopic[record.topicIdentity] { return known }
        let name = record.topic
        let names = (name, "\(runtime.sourceBase)#\(name)")
        sourceByTopic[record.topicIdentity] = names
        return names
    }
}
