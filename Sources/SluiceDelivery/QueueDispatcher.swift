import SluiceStorage
import Synchronization

/// Drains a queue through the delivery core on one scheduler (an event loop), with at most
/// `window` deliveries in flight. Retries wait on the scheduler's timers, never on a thread,
/// so a slow or dead subscriber holds only its own window and never the producer or other
/// queues. Each event is reported done to its queue once delivered, dead-lettered or dropped;
/// each scheduled retry is reported to it too (a durable queue remembers retries across
/// restarts).
public final class QueueDispatcher: Deliverer.Owner, @unchecked Sendable {  // scheduler-confined, except `wake`
    public let queue: any TriggerQueue
    public let deliverer: Deliverer
    private var route: DeliveryRoute
    private let window: Int
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
        self.window = max(1, window)
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

    private func pump() {
        // An exchange rather than a store: a store may become visible after the queue reads
        // below (x86 lets a load pass an earlier store), so a producer could still see the flag
        // set, skip `perform`, and leave its event waiting for the next wake-up.
        _ = scheduled.exchange(false, ordering: .acquiringAndReleasing)
        while !stopped, inFlight < window, let stored = queue.next() {
            inFlight += 1
            deliverer.deliver(stored, route: route, owner: self)
        }
        if inFlight == window && queue.hasWaiting { onBacklog?() }
    }

    public func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {
        queue.retrying(event, attempts: attempts, nextAttemptAt: nextAttemptAt)
    }

    public func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        queue.done(event)
        inFlight -= 1
        pump()
    }
}
