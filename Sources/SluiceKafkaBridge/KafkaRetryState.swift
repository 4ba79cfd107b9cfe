import Logging
import SluiceDelivery
import SluiceIO
import SluiceKafka
import Synchronization

/// Where a Kafka-class broker keeps the schedule of each event being retried, so that neither
/// a restart nor a rebalance resets it (Knative's dispatcher keeps it in memory only).
///
/// A compacted topic beside the broker's (`<topic>.retry-state`) holds one record per event,
/// keyed by consumer group, partition and offset, whose value is the attempts made and when
/// the next is due; a tombstone follows once the event is done. Every process serving the
/// broker replays the topic into a map, and whichever process takes a partition over looks
/// each record up there before delivering it. The map holds only events still being retried,
/// so looking up is one atomic load while it is empty, which is nearly always.
final class KafkaRetryState: @unchecked Sendable {
    struct Key: Hashable, Sendable {
        let group: String
        let partition: Int32
        let offset: Int64
    }

    struct Schedule: Equatable, Sendable {
        let attempts: Int
        /// Milliseconds since the epoch.
        let nextAttemptAt: Int64
    }

    let topic: String
    private let producer: KafkaProducer
    private let reader: KafkaTopicReader
    private let table = Table()
    private let logger: Logger
    private let failures = RateLimitedLog(interval: .seconds(30))

    init(topic: String, properties: KafkaProperties, producer: KafkaProducer, loop: EventLoop, logger: Logger) throws(KafkaError) {
        self.topic = topic
        self.producer = producer
        self.logger = logger
        let table = self.table
        reader = try KafkaTopicReader(properties: properties, topic: topic, loop: loop, logger: logger) { record in
            guard let key = record.key.flatMap(KafkaRetryState.decode(key:)) else { return }
            table.set(key, record.value.flatMap(KafkaRetryState.decode(schedule:)))
        }
    }

    /// The schedule recorded for the event at `key`, if it is being retried.
    func schedule(for key: Key) -> Schedule? {
        table.schedule(for: key)
    }

    /// Runs `body` on the reader's loop once every schedule recorded before now is known.
    func whenCaughtUp(_ body: @escaping @Sendable () -> Void) {
        reader.whenCaughtUp(body)
    }

    func record(_ key: Key, _ schedule: Schedule) {
        write(key, value: Array("\(schedule.attempts) \(schedule.nextAttemptAt)".utf8))
    }

    /// The event is done: a tombstone, which compaction removes with the schedule.
    func clear(_ key: Key) {
        write(key, value: nil)
    }

    /// Stops replaying the topic. Call once.
    func close() {
        reader.close()
    }

    private func write(_ key: Key, value: [UInt8]?) {
        let refused = producer.produce(topic: topic, key: KafkaRetryState.encode(key), value: value, headers: []) { [self] error in
            if let error { reportFailure(error) }
        }
        if let refused { reportFailure(refused) }
    }

    private func reportFailure(_ error: KafkaError) {
        failures.record { suppressed in
            logger.warning("cannot record a retry schedule; a restart would begin its retries again",
                           metadata: ["topic": "\(topic)", "reason": "\(error)", "suppressed": "\(suppressed)"])
        }
    }

    // MARK: Record format: key "<group>/<partition>/<offset>", value "<attempts> <next attempt ms>"

    static func encode(_ key: Key) -> [UInt8] {
        Array("\(key.group)/\(key.partition)/\(key.offset)".utf8)
    }

    static func decode(key bytes: UnsafeRawBufferPointer) -> Key? {
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
        guard fields.count >= 3, let partition = Int32(fields[fields.count - 2]), let offset = Int64(fields[fields.count - 1]) else { return nil }
        return Key(group: fields.dropLast(2).joined(separator: "/"), partition: partition, offset: offset)
    }

    static func decode(schedule bytes: UnsafeRawBufferPointer) -> Schedule? {
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let attempts = Int(fields[0]), attempts > 0, let next = Int64(fields[1]) else { return nil }
        return Schedule(attempts: attempts, nextAttemptAt: next)
    }
}

/// The schedules replayed from the topic, in offset order: a record sets one, a tombstone
/// removes it. Written on the reader's loop, read by the trigger consumers' loops.
private final class Table: Sendable {
    private let schedules = Locked<[KafkaRetryState.Key: KafkaRetryState.Schedule]>([:])
    private let count = Atomic<Int>(0)

    func set(_ key: KafkaRetryState.Key, _ schedule: KafkaRetryState.Schedule?) {
        let size = schedules.withLock { schedules in
            schedules[key] = schedule
            return schedules.count
        }
        count.store(size, ordering: .relaxed)
    }

    func schedule(for key: KafkaRetryState.Key) -> KafkaRetryState.Schedule? {
        guard count.load(ordering: .relaxed) > 0 else { return nil }
        return schedules.withLock { $0[key] }
    }
}
