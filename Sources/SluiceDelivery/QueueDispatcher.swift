import SluiceStorage
import Synchronization

/// Drains a queue through the delivery core on one scheduler (an event loop), with at most
/// `window` deliveries in flight. Retries wait on the scheduler's timers, never on a thread,
/// so a slow or dead subscriber holds only its own window and never the producer or other
/// queues. The window adapts to the subscriber (see `AdaptiveWindow`): one that fails gets
/// fewer events at once. Each event is reported done to its queue once delivered, dead-lettered or dropped;
/// each scheduled retry is reported to it too (a durable queue remembers retries across
/// restarts).
public final class QueueDispatcher: Deliverer.Owner, @unchecked Sendable {  // scheduler-confined, except `wake`
    public let queue: any TriggerQueue
    public let deliverer: Deliverer
    private var route: DeliveryRoute
    private var window: AdaptiveWindow
    private var inFlight = 0
    private let scheduled = Atomic<Bool>(false)
    private var stopped = false
    /// Called when this dispatcher's window is full and events are still waiting: lets a
    /// sibling on another loop take some.
    var onBacklog: (@Sendable () -> Void)?

    public init(route: DeliveryRoute, queue: any TriggerQueue, deliverer: Deliverer, window: Int = 100) {
        self.route = route
        self.queue = queue
        self.deliverer = deliverer
        self.window = AdaptiveWindow(limit: window)
    }

    private var scheduler: any DeliveryScheduler { deliverer.scheduler }

    /// Starts taking events on its own (without siblings). Call once.
    public func start() {
        queue.setWaker { [weak self] in self?.wake() }
        wake()
    }


    /// Replaces the route (subscriber, policy) after a configuration reload. Events in flight
    /// finish under the route they started with.
    public func update(_ route: DeliveryRoute) {
        scheduler.perform { [self] in self.route = route }
    }

    /// Stops taking new events (the queue's owner was removed). Events in flight finish.
    public func stop() {
        scheduler.perform { [self] in self.stopped = true }
    }

    /// Schedules a pump on the scheduler, once however many producers call it meanwhile.
    public func wake() {
        if !scheduled.load(ordering: .relaxed), !scheduled.exchange(true, ordering: .acquiringAndReleasing) {
            scheduler.perform { [self] in self.pump() }
        }
    }

    /// Deliveries in flight on this dispatcher.
    public var deliveriesInFlight: Int { inFlight }

    /// Deliveries this dispatcher lets into flight now (its adaptive window).
    public var allowedInFlight: Int { window.allowed }

    private func pump() {
        // An exchange rather than a store: a store may become visible after the queue reads
        // below (x86 lets a load pass an earlier store), so a producer could still see the flag
        // set, skip `perform`, and leave its event waiting for the next wake-up.
        _ = scheduled.exchange(false, ordering: .acquiringAndReleasing)
        while !stopped, inFlight < window.allowed, let stored = queue.next() {
            inFlight += 1
            deliverer.deliver(stored, route: route, owner: self)
        }
        if inFlight >= window.allowed && queue.hasWaiting { onBacklog?() }
    }

    public func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {
        window.failed(at: scheduler.wallClockMilliseconds())
        queue.retrying(event, attempts: attempts, nextAttemptAt: nextAttemptAt)
    }

    public func keeps(_ event: StoredEvent) -> Bool {
        queue.keeps(event)
    }

    public func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        switch outcome {
        case .delivered: window.succeeded()
        case .deadLettered, .dropped: window.failed(at: scheduler.wallClockMilliseconds())
        case .handedOver: break
        }
        queue.done(event)
        inFlight -= 1
        pump()
    }
}

/// How many deliveries a subscriber gets at once: the configured window while it answers, and
/// less while it fails. Each round of failures (timeouts, refused connections, 5xx answers; all
/// within `roundMilliseconds` of the first count as one) halves it, down to one; each success
/// adds one back, up to the limit, so a window doubles per round trip once the subscriber
/// answers again (as TCP's slow start). A subscriber that times out is then sent a few
/// requests, not the whole window, and the events meanwhile wait in their queue (on disk, with
/// the disk store).
struct AdaptiveWindow {
    let limit: Int
    private(set) var allowed: Int
    private var lastCut: Int64?
    static let roundMilliseconds: Int64 = 250

    init(limit: Int) {
        self.limit = max(1, limit)
        allowed = self.limit
    }

    mutating func failed(at now: Int64) {
        if let lastCut, now - lastCut < AdaptiveWindow.roundMilliseconds { return }
        lastCut = now
        allowed = max(1, allowed / 2)
    }

    mutating func succeeded() {
        if allowed < limit { allowed += 1 }
    }
}
