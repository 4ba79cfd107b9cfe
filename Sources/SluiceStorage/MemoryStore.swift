import SluiceCloudEvents
import SluiceIO
import Synchronization

/// Events held in memory (`--storage memory`): a bounded lock-free queue per trigger. An
/// event matched by several triggers is shared, not copied. Bounds: events per trigger
/// (waiting plus in flight) and bytes across the broker; past either, `appendNow` refuses the
/// event whole (no trigger gets it), and the producer gets 503 to retry later.
public final class MemoryStore: BrokerStore, TriggerQueueOwner, Sendable {
    public let maxEventsPerTrigger: Int
    public let maxBytes: Int
    private let queues = Locked<[String: RingTriggerQueue]>([:])
    private let bytes = Atomic<Int>(0)
    private let sequence = Atomic<UInt64>(0)

    public init(maxEventsPerTrigger: Int = 10_000, maxBytes: Int = 256 * 1024 * 1024) {
        self.maxEventsPerTrigger = maxEventsPerTrigger
        self.maxBytes = maxBytes
    }

    public var completesSynchronously: Bool { true }
    public var eventsPerTriggerLimit: Int? { maxEventsPerTrigger }

    public var storedBytes: Int { bytes.load(ordering: .relaxed) }

    public func queue(forTrigger key: String) -> any TriggerQueue {
        queues.withLock { queues in
            if let existing = queues[key] { return existing }
            let queue = RingTriggerQueue(key: key, capacity: maxEventsPerTrigger, owner: self)
            queues[key] = queue
            return queue
        }
    }

    public func retainOnly(triggers keys: Set<String>) {
        let removed: [RingTriggerQueue] = queues.withLock { queues in
            let gone = queues.filter { !keys.contains($0.key) }
            for key in gone.keys { queues[key] = nil }
            return Array(gone.values)
        }
        for queue in removed { queue.discardAll() }
    }

    public func appendNow(_ event: CloudEvent, to queues: [any TriggerQueue]) -> StorageError? {
        if queues.isEmpty { return nil }
        let size = event.byteCount + 64
        let added = size * queues.count
        if bytes.add(added, ordering: .relaxed).newValue > maxBytes {
            bytes.subtract(added, ordering: .relaxed)
            return .full(retryAfterSeconds: 1)
        }
        // Reserve a place in every queue first, so the event goes to all of them or none.
        var reserved = 0
        for queue in queues {
            guard memoryQueue(queue).reserve() else { break }
            reserved += 1
        }
        if reserved < queues.count {
            for queue in queues.prefix(reserved) { memoryQueue(queue).unreserve() }
            bytes.subtract(added, ordering: .relaxed)
            return .full(retryAfterSeconds: 1)
        }
        let stored = StoredEvent(event: event, sequence: sequence.add(1, ordering: .relaxed).newValue)
        for queue in queues { memoryQueue(queue).push(stored) }
        return nil
    }

    public func append(_ events: [(event: CloudEvent, queues: [any TriggerQueue])],
                       completion: @escaping @Sendable (StorageError?) -> Void) {
        for entry in events {
            if let error = appendNow(entry.event, to: entry.queues) {
                completion(error)
                return
            }
        }
        completion(nil)
    }

    /// The queues given to `appendNow` are this store's own (handed out by `queue(forTrigger:)`),
    /// so the cast cannot fail; a checked cast costs a runtime conformance lookup per event.
    @inline(__always)
    private func memoryQueue(_ queue: any TriggerQueue) -> RingTriggerQueue {
        unsafeDowncast(queue as AnyObject, to: RingTriggerQueue.self)
    }

    func finished(_ event: StoredEvent, by queue: RingTriggerQueue) {
        bytes.subtract(event.event.byteCount + 64, ordering: .relaxed)
    }

    /// Memory keeps nothing across restarts, so there is nothing to remember.
    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64, by queue: RingTriggerQueue) {}

    public var metrics: StorageMetrics? { nil }

    public func close() {}
}
