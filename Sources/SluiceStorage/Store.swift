import SluiceCloudEvents

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

/// An event as a trigger receives it from the store: the event and its position in the
/// broker's stream (increasing; the unit of acknowledgement).
public struct StoredEvent: Sendable {
    public let event: CloudEvent
    public let sequence: UInt64

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
}
