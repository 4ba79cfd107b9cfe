import SluiceCloudEvents

/// Why events could not be stored: the one error type of the storage module. The ingress maps
/// `full` to 503 with its Retry-After and `failed` to 503 with the reason logged.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The broker is at one of its bounds; worth trying again after this many seconds.
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

/// Where an event sits in the stream it was stored in: a partition and an offset in it. The
/// memory and disk stores have one partition (0) and number events in arrival order; a store
/// on Kafka has the topic's partitions and their offsets. Positions order events within a
/// partition only.
public struct StreamPosition: Hashable, Sendable, CustomStringConvertible {
    public var partition: Int32
    public var offset: UInt64

    public init(partition: Int32 = 0, offset: UInt64) {
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(partition):\(offset)" }
}

/// An event as a trigger receives it from the store: the event, its position in the
/// broker's stream (the unit of acknowledgement) and, for an event recovered from disk in the
/// middle of its retries, the attempts already made and when the next is due.
public struct StoredEvent: Sendable {
    public let event: CloudEvent
    public let position: StreamPosition
    /// Delivery attempts made before this process took the event over (0 for a new event).
    public var attemptsMade: Int = 0
    /// When the next attempt is due, in milliseconds since the epoch (0: now).
    public var nextAttemptAt: Int64 = 0
    /// When the event was stored, in monotonic nanoseconds (0: unknown, as after a restart).
    public var arrivedAt: UInt64 = 0

    public init(event: CloudEvent, position: StreamPosition, arrivedAt: UInt64 = 0) {
        self.event = event
        self.position = position
        self.arrivedAt = arrivedAt
    }
}

/// One trigger's view of its broker's events: the events it matched, in order, until it
/// reports each one done. Consumed by one trigger's dispatchers.
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
    /// The most events the queue holds (waiting and in flight).
    var capacity: Int { get }
    /// True when events are waiting to be taken (an estimate under concurrency).
    var hasWaiting: Bool { get }
    /// False once `event` is no longer this queue's to deliver (a Kafka partition that went
    /// to another process): its pending retry is not made. Asked before each retry.
    func keeps(_ event: StoredEvent) -> Bool
    /// True when the events waiting here are kept elsewhere (a Kafka topic) and another
    /// process delivers them if this one stops: a shutdown need not wait for them.
    var isReplicatedElsewhere: Bool { get }
}

extension TriggerQueue {
    /// The local stores keep every event until it is done.
    public func keeps(_ event: StoredEvent) -> Bool { true }
    /// A local store's events are this process's to deliver (on disk, after a restart).
    public var isReplicatedElsewhere: Bool { false }
}

/// Events for some of a store's triggers: what one `append` stores.
public struct StoreEntry<Queue: TriggerQueue>: Sendable {
    public var event: CloudEvent
    public var queues: [Queue]

    public init(event: CloudEvent, queues: [Queue]) {
        self.event = event
        self.queues = queues
    }
}

/// Where a broker's events live between ingress and delivery. Implementations decide what
/// "stored" means: in memory, or durable on disk. Either way an event is acknowledged to its
/// producer only after `append` completed without an error.
public protocol BrokerStore<Queue>: AnyObject, Sendable {
    associatedtype Queue: TriggerQueue

    /// The queue of the trigger with `key`, created on first use and kept across reloads.
    func queue(forTrigger key: String) -> Queue
    /// Forgets triggers that are not in `keys` any more, releasing what they held. Appends
    /// racing with it skip the removed queues rather than fail.
    func retainOnly(triggers keys: Set<String>)
    /// Stores `entries`, all or none, and calls `completion` once they are stored (nil) or
    /// with why they were not. `completion` may run before `append` returns (a store that
    /// does not wait on I/O) or later on another thread.
    func append(_ entries: [StoreEntry<Queue>], completion: @escaping @Sendable (StorageError?) -> Void)
    /// Counters of the store's writes (durable stores).
    var metrics: StorageMetrics? { get }
    /// True when a trigger's full queue refuses further events (the memory store); false
    /// when they wait elsewhere meanwhile (the disk store's log).
    var fullQueuesRefuse: Bool { get }
    /// Writes what is pending and releases files; the store takes no events afterwards.
    func close()
}
