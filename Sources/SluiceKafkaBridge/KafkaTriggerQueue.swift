import CoreMetrics
import DequeModule
import Logging
import SluiceCloudEvents
import SluiceCloudEventsKafka
import SluiceFilter
import SluiceIO
import SluiceKafka
import SluiceStorage
import Synchronization

/// One trigger of a Kafka-class broker, as its dispatchers see it: a `TriggerQueue` fed by the
/// trigger's own consumer group (`knative-trigger-<ns>-<name>`) on the broker's topic. The
/// consumer keeps the records the trigger's filter matches in a bounded ring and stores a
/// partition's offset for commit once every record before it was delivered, dead-lettered or
/// filtered out (a `CommitTracker` per partition), so the trigger's progress lives in Kafka and
/// any Sluice process of the group can take it over.
///
/// Ordered (`kafka.eventing.knative.dev/delivery.order: ordered`): a partition has one event
/// out at a time, retries included; the rest of the partition's matched records wait here. A
/// partition whose event out is stuck in retries (a quarter of the window waiting behind it,
/// nothing finished for a second) is paused, and what waits in it stops counting toward the
/// window, so the trigger's other partitions keep flowing; it resumes once it has drained.
/// Unordered: every matched record goes straight to the ring.
///
/// Retry schedules live in the broker's retry-state topic (`KafkaRetryState`): each scheduled
/// retry is recorded there, and a partition newly assigned holds its records until the topic
/// has been read up to its end, so that an event whose retries began in another process (or
/// before a restart) continues its schedule here.
///
/// The consumer and its trackers are confined to the consumer's loop; dispatchers on any loop
/// take events from the ring and report them done through a lock-free queue that the consumer
/// drains in one loop task per batch.
final class KafkaTriggerQueue: TriggerQueue, KafkaConsumer.Delegate, @unchecked Sendable {
    /// One assigned partition while it stays assigned: a record finishing after its partition
    /// was revoked is recognised and ignored (the partition's next owner delivers it again).
    private final class Partition {
        let id: KafkaPartition
        var tracker = CommitTracker()
        var revoked = false
        /// Ordered mode: matched records behind the one out.
        var waiting: Deque<StoredEvent> = []
        var out = false
        /// Matched records that arrived before the retry schedules were read.
        var parked: [StoredEvent] = []
        /// Ordered mode: paused while its event out is stuck in retries.
        var paused = false
        /// When an event of the partition last finished (monotonic nanoseconds).
        var lastProgress = Monotonic.now()

        init(_ id: KafkaPartition) {
            self.id = id
        }
    }

    private struct PartitionKey: Hashable {
        let topic: UnsafeRawPointer
        let partition: Int32
    }

    let key: String
    /// The trigger's consumer group.
    let group: String
    let capacity: Int
    let ordered: Bool
    private let retryState: KafkaRetryState?
    private let ring: MPMCQueue<StoredEvent>
    /// Events in the ring or in flight.
    private let held = Atomic<Int>(0)
    private var waker: (@Sendable () -> Void)?
    private let finished = MPSCLinkedQueue<StoredEvent>()
    private let drainScheduled = Atomic<Bool>(false)
    /// The trigger's filter as configured now (a reload may change it).
    private let filter: Locked<Filter>
    private let logger: Logger
    /// The source of a record that is not a CloudEvent, wrapped as Knative wraps it.
    private let wrappedSource: String
    /// Records after the consumer's position, over the partitions this process holds.
    private let lag: CoreMetrics.Gauge

    // Confined to the consumer's loop.
    private let consumer: KafkaConsumer
    private var decoder = KafkaEventDecoder()
    private var slots: [Partition] = []
    private var slotByKey: [PartitionKey: Int32] = [:]
    private var taking = true
    private var stopped = false
    /// Events waiting in paused partitions: they do not count toward the window.
    private var exempt = 0
    /// Events counted toward the window (`capacity`).
    private var counted: Int { held.load(ordering: .relaxed) - exempt }
    /// Ordered mode: how many events waiting behind a stuck one pause its partition.
    private var pauseAt: Int { max(1, capacity / 4) }
    private static let stuckAfter: UInt64 = 1_000_000_000
    /// Partitions assigned whose retry schedules are not read yet, with the assignment's number.
    private var awaitingSchedules: [Int32: Int] = [:]
    private var assignments = 0
    /// Events whose schedule is recorded in the retry-state topic, to clear once done.
    private var scheduled: Set<StreamPosition> = []
    /// The slots of revoked partitions, for dispatchers asking before a retry (`keeps`).
    private let handedOver = Locked<Set<Int32>>([])

    init(key: String, group: String, filter: Filter, ordered: Bool, consumer: KafkaConsumer, capacity: Int, wrappedSource: String,
         retryState: KafkaRetryState?, lag: CoreMetrics.Gauge, logger: Logger) {
        self.lag = lag
        self.key = key
        self.group = group
        self.retryState = retryState
        self.ordered = ordered
        self.wrappedSource = wrappedSource
        self.capacity = capacity
        self.consumer = consumer
        self.filter = Locked(filter)
        self.logger = logger
        ring = MPMCQueue(capacity: capacity)
    }

    func start() {
        consumer.start(delegate: self)
    }

    func update(filter: Filter) {
        self.filter.withLock { $0 = filter }
    }

    /// Leaves the group (committing what is stored); events still in the ring are dropped
    /// and delivered again by the group's next member.
    func stop(done: @escaping @Sendable () -> Void = {}) {
        lag.destroy()
        consumer.loop.execute { [self] in
            stopped = true
            consumer.close(done: done)
        }
    }

    /// Records the lag (on the consumer's loop; a scrape shows what the previous one asked).
    func collectLag() {
        consumer.loop.execute { [self] in
            guard !stopped else { return }
            lag.record(slotByKey.values.reduce(Int64(0)) { $0 + (consumer.lag(slots[Int($1)].id) ?? 0) })
        }
    }

    // MARK: TriggerQueue

    var depth: Int { held.load(ordering: .relaxed) }
    /// The events are in the topic, uncommitted: the group's next member delivers them.
    var isReplicatedElsewhere: Bool { true }
    var hasWaiting: Bool { !ring.isEmpty }

    func setWaker(_ waker: @escaping @Sendable () -> Void) {
        self.waker = waker
    }

    func next() -> StoredEvent? {
        ring.tryDequeue()
    }

    func done(_ event: StoredEvent) {
        held.subtract(1, ordering: .relaxed)
        finished.enqueue(event)
        if !drainScheduled.exchange(true, ordering: .acquiringAndReleasing) {
            consumer.loop.execute { [self] in drainFinished() }
        }
    }

    /// A revoked partition's next owner makes the retries (resuming the recorded schedule).
    func keeps(_ event: StoredEvent) -> Bool {
        !handedOver.withLock { $0.contains(event.position.partition) }
    }

    /// Records the schedule in the retry-state topic (from the consumer's loop, where a
    /// revoked partition is known: its next owner records its own).
    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {
        guard let retryState else { return }
        consumer.loop.execute { [self] in
            let partition = slots[Int(event.position.partition)]
            guard !partition.revoked, !stopped else { return }
            scheduled.insert(event.position)
            retryState.record(scheduleKey(event, in: partition), KafkaRetryState.Schedule(attempts: attempts, nextAttemptAt: nextAttemptAt))
        }
    }

    // MARK: KafkaConsumer.Delegate (on the consumer's loop)

    var acceptsRecords: Bool { taking && !stopped }

    func received(_ record: KafkaRecord) {
        guard !stopped else { return }
        let slot = self.slot(for: record)
        let partition = slots[Int(slot)]
        var headers: [KafkaRecordHeader] = []
        record.forEachHeader { headers.append(KafkaRecordHeader(name: $0, value: $1)) }
        let origin = KafkaEventDecoder.Origin(source: wrappedSource, partition: record.partition,
                                              offset: record.offset, timestamp: record.timestamp)
        let event = decoder.decode(key: record.key, value: record.value, headers: headers, origin: origin).event
        partition.tracker.taken(record.offset)
        let stored = StoredEvent(event: event, position: StreamPosition(partition: slot, offset: UInt64(bitPattern: record.offset)),
                                 arrivedAt: Monotonic.now())
        let filter = self.filter.withLock { $0 }
        guard event.withView({ filter.matches($0) }) else { return finish(stored, delivered: false) }
        held.add(1, ordering: .relaxed)
        if awaitingSchedules[record.partition] != nil {
            partition.parked.append(stored)
        } else {
            admit(stored, from: partition)
        }
        if counted >= capacity { taking = false }
    }

    /// Gives a matched event its recorded retry schedule, if it has one, and lets it out (in
    /// ordered mode, after the partition's event out).
    private func admit(_ event: StoredEvent, from partition: Partition) {
        var event = event
        if let schedule = retryState?.schedule(for: scheduleKey(event, in: partition)) {
            event.attemptsMade = schedule.attempts
            event.nextAttemptAt = schedule.nextAttemptAt
            scheduled.insert(event.position)
        }
        if ordered && partition.out {
            partition.waiting.append(event)
            if partition.paused {
                exempt += 1  // fetched before the pause
            } else if partition.waiting.count >= pauseAt && Monotonic.now() &- partition.lastProgress > KafkaTriggerQueue.stuckAfter {
                partition.paused = true
                exempt += partition.waiting.count
                consumer.pause(partition.id)
                logger.info("partition paused while its first event is retried", metadata: ["trigger": "\(key)", "partition": "\(partition.id)"])
            }
        } else {
            partition.out = true
            hand(event)
        }
    }

    private func scheduleKey(_ event: StoredEvent, in partition: Partition) -> KafkaRetryState.Key {
        KafkaRetryState.Key(group: group, partition: partition.id.partition, offset: Int64(bitPattern: event.position.offset))
    }

    /// Puts `event` where the dispatchers take it. Cannot fail: `taking` stops the consumer
    /// at the ring's capacity.
    private func hand(_ event: StoredEvent) {
        _ = ring.tryEnqueue(event)
        waker?()
    }

    func assigned(_ partitions: [KafkaPartition]) {
        logger.info("partitions assigned", metadata: ["trigger": "\(key)", "partitions": "\(partitions.map(\.description).joined(separator: ","))"])
        guard let retryState, !partitions.isEmpty else { return }
        assignments += 1
        let assignment = assignments
        for partition in partitions { awaitingSchedules[partition.partition] = assignment }
        retryState.whenCaughtUp { [weak self] in
            guard let self else { return }
            consumer.loop.execute { self.schedulesRead(assignment) }
        }
    }

    /// The retry schedules recorded before `assignment` are known: its partitions' parked
    /// records go out.
    private func schedulesRead(_ assignment: Int) {
        guard !stopped else { return }
        let ready = Set(awaitingSchedules.filter { $0.value == assignment }.keys)
        guard !ready.isEmpty else { return }
        for partition in ready { awaitingSchedules.removeValue(forKey: partition) }
        for slot in slotByKey.values where ready.contains(slots[Int(slot)].id.partition) {
            let partition = slots[Int(slot)]
            let parked = partition.parked
            partition.parked = []
            for event in parked { admit(event, from: partition) }
        }
    }

    func revoked(_ partitions: [KafkaPartition]) {
        logger.info("partitions revoked", metadata: ["trigger": "\(key)", "partitions": "\(partitions.map(\.description).joined(separator: ","))"])
        let gone = Set(partitions)
        for (key, slot) in slotByKey where gone.contains(slots[Int(slot)].id) {
            let partition = slots[Int(slot)]
            partition.revoked = true
            // What waits is dropped: its offsets were not stored, so the next owner delivers it.
            held.subtract(partition.waiting.count + partition.parked.count, ordering: .relaxed)
            if partition.paused {
                exempt -= partition.waiting.count
                consumer.resume(partition.id)
            }
            partition.waiting.removeAll()
            partition.parked.removeAll()
            slotByKey.removeValue(forKey: key)
            scheduled = scheduled.filter { $0.partition != slot }
            handedOver.withLock { _ = $0.insert(slot) }
        }
        for partition in partitions { awaitingSchedules.removeValue(forKey: partition.partition) }
    }

    func committed(_ error: KafkaError?) {
        if let error { logger.warning("offset commit failed", metadata: ["trigger": "\(key)", "reason": "\(error)"]) }
    }

    func failed(_ error: KafkaError) {
        logger.warning("Kafka consumer", metadata: ["trigger": "\(key)", "reason": "\(error)"])
    }

    // MARK: Commit tracking (on the consumer's loop)

    private func drainFinished() {
        _ = drainScheduled.exchange(false, ordering: .acquiringAndReleasing)
        while let event = finished.dequeue() { finish(event) }
        if !taking && !stopped && counted <= capacity / 2 {
            taking = true
            consumer.serveAgain()
        }
    }

    private func finish(_ event: StoredEvent, delivered: Bool = true) {
        let partition = slots[Int(event.position.partition)]
        guard !partition.revoked, !stopped else { return }
        if !scheduled.isEmpty, scheduled.remove(event.position) != nil { retryState?.clear(scheduleKey(event, in: partition)) }
        if ordered && delivered {
            partition.lastProgress = Monotonic.now()
            if let next = partition.waiting.popFirst() {
                if partition.paused { exempt -= 1 }
                hand(next)
            } else {
                partition.out = false
            }
            if partition.paused && partition.waiting.count <= pauseAt / 4 {
                partition.paused = false
                exempt -= partition.waiting.count
                consumer.resume(partition.id)
                logger.info("partition resumed", metadata: ["trigger": "\(key)", "partition": "\(partition.id)"])
            }
        }
        if let next = partition.tracker.finished(Int64(bitPattern: event.position.offset)) {
            consumer.store(partition.id, nextOffset: next)
        }
    }

    private func slot(for record: KafkaRecord) -> Int32 {
        let key = PartitionKey(topic: record.topicIdentity, partition: record.partition)
        if let slot = slotByKey[key] { return slot }
        let slot = Int32(slots.count)
        slots.append(Partition(KafkaPartition(topic: record.topic, partition: record.partition)))
        slotByKey[key] = slot
        return slot
    }
}
