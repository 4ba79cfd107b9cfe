import SluiceCloudEvents
import SluiceIO
import Synchronization

/// What a trigger's queue reports to the store that owns it.
protocol TriggerQueueOwner: AnyObject, Sendable {
    func finished(_ event: StoredEvent, by queue: RingTriggerQueue)
    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64, by queue: RingTriggerQueue)
}

/// One trigger's events in memory, in a bounded lock-free ring: the queue of both stores (the
/// disk store keeps its events here too once they are durable). Producers `reserve` a place
/// first, so an event goes to all of its triggers or to none.
public final class RingTriggerQueue: TriggerQueue, @unchecked Sendable {  // waker: written once before use
    /// What `reserve` found.
    enum Reservation {
        case reserved
        /// The queue is at its capacity.
        case full
        /// The trigger was removed; nothing was reserved.
        case removed
    }

    public let key: String
    /// The trigger's number in its store's log (0 in memory).
    let id: UInt32
    private let ring: MPMCQueue<StoredEvent>
    public let capacity: Int
    /// Events reserved, queued or in flight (released by `done`).
    private let held = Atomic<Int>(0)
    private weak var owner: (any TriggerQueueOwner)?
    private var waker: (@Sendable () -> Void)?
    private let discarded = Atomic<Bool>(false)
    /// Set while the trigger's backlog waits in the disk log: finished deliveries then ask
    /// the committer for more.
    private let behind = Atomic<Bool>(false)

    /// A queue holding at most `capacity` events.
    init(key: String, id: UInt32 = 0, capacity: Int, owner: any TriggerQueueOwner) {
        self.key = key
        self.id = id
        self.capacity = capacity
        self.owner = owner
        ring = MPMCQueue(capacity: capacity)
    }

    public var depth: Int { held.load(ordering: .relaxed) }
    public var hasWaiting: Bool { !ring.isEmpty }
    var isDiscarded: Bool { discarded.load(ordering: .relaxed) }

    public func setWaker(_ waker: @escaping @Sendable () -> Void) {
        self.waker = waker
    }

    func reserve() -> Reservation {
        if discarded.load(ordering: .relaxed) { return .removed }
        if held.add(1, ordering: .relaxed).newValue > capacity {
            held.subtract(1, ordering: .relaxed)
            return .full
        }
        return .reserved
    }

    /// Takes a place for an event about to be pushed; false when the queue is full or removed.
    func tryHold() -> Bool {
        reserve() == .reserved
    }

    var isBehind: Bool { behind.load(ordering: .relaxed) }

    func setBehind(_ value: Bool) {
        behind.store(value, ordering: .relaxed)
    }

    func unreserve() {
        held.subtract(1, ordering: .relaxed)
    }

    func push(_ event: StoredEvent) {
        // Cannot fail: `reserve` bounded the holders to the ring's capacity.
        _ = ring.tryEnqueue(event)
        // Removed meanwhile: nobody will read this queue, so release what it holds now.
        if discarded.load(ordering: .relaxed) {
            discardAll()
            return
        }
        waker?()
    }

    public func next() -> StoredEvent? {
        ring.tryDequeue()
    }

    public func done(_ event: StoredEvent) {
        held.subtract(1, ordering: .relaxed)
        owner?.finished(event, by: self)
    }

    public func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {
        owner?.retrying(event, attempts: attempts, nextAttemptAt: nextAttemptAt, by: self)
    }

    /// The trigger was removed: drop what it holds.
    func discardAll() {
        discarded.store(true, ordering: .relaxed)
        while let event = ring.tryDequeue() { done(event) }
    }
}
