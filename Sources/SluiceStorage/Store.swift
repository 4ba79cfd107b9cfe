import SluiceCloudEvents
import Synchronization

/// Why events could not be stored: the one error type of the storage module. The ingress maps
/// `full` to 503 with Retry-After and `failed` to 503 with the reason logged.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The broker is at its bound (events or bytes); retry after this many seconds.
    case full(retryAfterSeconds: Int)
    /// Storing failed (for example an I/O error); nothing was acknowledged.
    case failed(String)

    public var description: String {
        switch self {
        case .full: return "the broker is full; retry later"
        case .failed(let reason): return "storage failed: \(reason)"
        }
    }
}

/// An event as a trigger receives it from the store: the event, its position in the
/// broker's stream (increasing; the unit of acknowledgement) and, for an event recovered from
/// disk in the middle of its retries, the attempts already made and when the next is due.
public struct StoredEvent: Sendable {
    public let event: CloudEvent
    public let sequence: UInt64
    /// Delivery attempts made before this process took the event over (0 for a new event).
    public var attemptsMade: Int = 0
    /// When the next attempt is due, in milliseconds since the epoch (0: now).
    public var nextAttemptAt: Int64 = 0

    public init(event: CloudEvent, sequence: UInt64) {
        self.event = event
        self.sequence = sequence
    }
}

/// One trigger's view of its broker's events: the events it matched, in order, until it
/// reports each one done. Consumed by exactly one dispatcher.
public protocol TriggerQueue: AnyObject, Sendable {
    /// The trigger's key in its store ("namespace/name").
    var key: String { get }
    /// The next event to deliver, or nil when none is waiting.
    func next() -> StoredEvent?
    /// The trigger has finished with `event`: delivered, dead-lettered, or given up.
    func done(_ event: StoredEvent)
    /// `attempts` deliveries of `event` failed and the next is due at `nextAttemptAt`
    /// (milliseconds since the epoch): a durable store remembers it across restarts.
    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64)
    /// Sets the function the store calls (from any thread) when events arrive. Set once,
    /// before events flow.
    func setWaker(_ waker: @escaping @Sendable () -> Void)
    /// Events waiting or in flight.
    var depth: Int { get }
    /// True when events are waiting to be taken (an estimate under concurrency).
    var hasWaiting: Bool { get }
}

/// Where a broker's events live between ingress and delivery. Implementations decide what
/// "stored" means: in memory, or durable on disk. Either way an event is acknowledged to its
/// producer only after `append` succeeded.
public protocol BrokerStore: AnyObject, Sendable {
    /// The queue of the trigger with `key`, created on first use and kept across reloads.
    func queue(forTrigger key: String) -> any TriggerQueue
    /// Forgets triggers that are not in `keys` any more, releasing what they held.
    func retainOnly(triggers keys: Set<String>)
    /// True when `appendNow` is the way to store (no waiting on I/O).
    var completesSynchronously: Bool { get }
    /// The most events a trigger's queue holds, if the store bounds queues that way.
    var eventsPerTriggerLimit: Int? { get }
    /// Stores `event` for `queues` right away.
    func appendNow(_ event: CloudEvent, to queues: [any TriggerQueue]) -> StorageError?
    /// Stores `events`, calling `completion` once all are stored or with why they were not.
    func append(_ events: [(event: CloudEvent, queues: [any TriggerQueue])],
                completion: @escaping @Sendable (StorageError?) -> Void)
    /// Counters of the store's writes (durable stores).
    var metrics: StorageMetrics? { get }
    /// Writes what is pending and releases files; the store takes no events afterwards.
    func close()
}


/// Counters of a durable store.
public final class StorageMetrics: Sendable {
    /// Events written and made durable.
    public let eventsWritten = Atomic<Int>(0)
    /// fdatasync calls that completed.
    public let syncs = Atomic<Int>(0)
    /// Write or sync failures (each answered 503 to the requests it held).
    public let failures = Atomic<Int>(0)
    /// Bytes of log files on disk.
    public let diskBytes = Atomic<Int>(0)
    /// Segments deleted after every trigger was done with them.
    public let segmentsReclaimed = Atomic<Int>(0)

    public init() {}
}
