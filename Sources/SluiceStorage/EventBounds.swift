import SluiceCloudEvents
import Synchronization

/// The memory store's bounds: bytes across the broker, and a place in each trigger's queue. A
/// request is admitted whole or refused whole, so an event goes to all of its triggers or to
/// none; a queue removed by a reload meanwhile is skipped. (The disk store bounds memory too,
/// with the same `cost`, but sends what does not fit to the log instead of refusing it.)
final class EventBounds: Sendable {
    let maxBytes: Int
    /// How long a producer refused for a full queue or full memory should wait: deliveries
    /// free places continuously, so a second is usually enough.
    static let retryAfterSeconds = 1
    private let bytes = Atomic<Int>(0)

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// What one trigger's share of an event costs in memory (the event is shared; 64 bytes
    /// for its place in the queue and the bookkeeping).
    @inline(__always)
    static func cost(_ event: CloudEvent) -> Int { event.byteCount + 64 }

    var heldBytes: Int { bytes.load(ordering: .relaxed) }

    /// Reserves a place in every live queue of every entry and the bytes they take. Returns
    /// the entries with removed queues left out, or why the request is refused.
    func admit(_ entries: [StoreEntry<RingTriggerQueue>]) -> Result<[StoreEntry<RingTriggerQueue>], StorageError> {
        var admitted = entries
        var total = 0
        for index in entries.indices {
            var reservedHere = 0
            for queue in entries[index].queues {
                switch queue.reserve() {
                case .reserved:
                    reservedHere += 1
                case .removed:
                    // Removed by a reload that this request's snapshot predates: no one will
                    // deliver from it, and the other triggers must not pay for that with a 503.
                    admitted[index].queues.removeAll { $0 === queue }
                case .full:
                    for entry in admitted[..<index] { for queue in entry.queues { queue.unreserve() } }
                    for queue in admitted[index].queues.prefix(reservedHere) { queue.unreserve() }
                    return .failure(.full(retryAfterSeconds: EventBounds.retryAfterSeconds))
                }
            }
            total += EventBounds.cost(admitted[index].event) * admitted[index].queues.count
        }
        if bytes.add(total, ordering: .relaxed).newValue > maxBytes {
            bytes.subtract(total, ordering: .relaxed)
            for entry in admitted { for queue in entry.queues { queue.unreserve() } }
            return .failure(.full(retryAfterSeconds: EventBounds.retryAfterSeconds))
        }
        return .success(admitted)
    }

    /// Gives back what `admit` took, for entries that were not stored after all.
    func release(_ entries: [StoreEntry<RingTriggerQueue>]) {
        for entry in entries {
            for queue in entry.queues { queue.unreserve() }
            bytes.subtract(EventBounds.cost(entry.event) * entry.queues.count, ordering: .relaxed)
        }
    }

    /// One queue finished with `event`.
    func finished(_ event: CloudEvent) {
        bytes.subtract(EventBounds.cost(event), ordering: .relaxed)
    }
}
