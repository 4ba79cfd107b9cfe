import SluiceCloudEvents
import SluiceIO
import Synchronization

/// Events held in memory (`--storage memory`): a bounded lock-free queue per trigger. An
/// event matched by several triggers is shared, not copied. Bounds: events per trigger
/// (waiting plus in flight) and bytes across the broker; past either, `append` refuses the
/// request whole (no trigger gets its events), and the producer gets 503 to retry later.
/// Appends complete before `append` returns.
public final class MemoryStore: BrokerStore, TriggerQueueOwner, Sendable {
    public let maxEventsPerTrigger: Int
    private let bounds: EventBounds
    private let queues = Locked<[String: RingTriggerQueue]>([:])
    private let sequence = Atomic<UInt64>(0)

    public init(maxEventsPerTrigger: Int = 10_000, maxBytes: Int = 256 * 1024 * 1024) {
        self.maxEventsPerTrigger = maxEventsPerTrigger
        bounds = EventBounds(maxBytes: maxBytes)
    }

    public var maxBytes: Int { bounds.maxBytes }
    public var storedBytes: Int { bounds.heldBytes }

    public func queue(forTrigger key: String) -> RingTriggerQueue {
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

    public func append(_ entries: [StoreEntry<RingTriggerQueue>], completion: @escaping @Sendable (StorageError?) -> Void) {
        switch bounds.admit(entries) {
        case .failure(let refusal):
            completion(refusal)
        case .success(let admitted):
            let now = Monotonic.now()
            for entry in admitted where !entry.queues.isEmpty {
                let position = StreamPosition(offset: sequence.add(1, ordering: .relaxed).newValue)
                let stored = StoredEvent(event: entry.event, position: position, arrivedAt: now)
                for queue in entry.queues { queue.push(stored) }
            }
            completion(nil)
        }
    }

    func finished(_ event: StoredEvent, by queue: RingTriggerQueue) {
        bounds.finished(event.event)
    }

    /// Memory keeps nothing across restarts, so there is nothing to remember.
    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64, by queue: RingTriggerQueue) {}

    public var metrics: StorageMetrics? { nil }
    public var fullQueuesRefuse: Bool { true }

    public func close() {}
}
