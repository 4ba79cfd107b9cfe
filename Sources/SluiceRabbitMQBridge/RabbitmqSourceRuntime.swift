import Logging
import SluiceBroker
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceIO
import SluiceRabbitMQ
import SluiceStorage
import Synchronization

/// One RabbitmqSource: the thread that owns its AMQP connection (`RabbitmqSourceConsumer`),
/// the event loop that delivers its messages through the delivery core, and the two bounded
/// lock-free queues between them.
///
/// The thread reads messages, turns them into events and puts them in `inbox`; the first one
/// of a batch schedules the loop, which hands them to the deliverer. Each finished delivery
/// goes into `outbox` and, when the thread is not already due to look, wakes it through an
/// eventfd; the thread acks (or nacks) there, on its own connection, as librabbitmq requires.
/// Both queues are sized for what RabbitMQ can have unacknowledged (the prefetch) twice over,
/// since messages of a connection that just failed may still be on their way.
final class RabbitmqSourceRuntime: Deliverer.Owner, StoppableSource {
    /// A message read, on its way to delivery.
    struct Received: Sendable {
        let event: CloudEvent
        let tag: UInt64
        let generation: UInt32
    }

    /// A delivery finished: how to settle the message on the connection that read it.
    struct Settled: Sendable {
        let tag: UInt64
        let generation: UInt32
        let settlement: AckTracker.Settlement
    }

    let manifest: RabbitmqSourceManifest
    let fingerprint: String
    let endpoint: AMQPConnection.Endpoint
    let route: DeliveryRoute
    let metrics: RabbitmqSourceMetrics
    let logger: Logger
    let loop: EventLoop
    private let deliverer: Deliverer
    /// `/apis/v1/namespaces/<ns>/rabbitmqsources/<name>#<queue>`.
    let eventSource: String

    let inbox: MPMCQueue<Received>
    let outbox: MPMCQueue<Settled>
    /// Where settlements go in the unexpected case the outbox is full.
    let overflow = Locked<[Settled]>([])
    let wake: EventCounter
    /// Set while the thread has been told to look at the outbox and has not yet.
    private let outboxSignalled = Atomic<Bool>(false)
    private let inboxScheduled = Atomic<Bool>(false)
    /// The connection the thread serves now: messages of an older one are not delivered
    /// (the server gives them to the new connection) and their settlements are ignored.
    let generation = Atomic<UInt32>(0)
    let stopping = Atomic<Bool>(false)
    private let health = Locked<(connected: Bool, failure: String?)>((false, nil))
    /// What `stop` asked for, read by the thread.
    let stopped = Locked<(grace: Duration, done: (@Sendable () -> Void)?)>((.zero, nil))

    /// Knative's RabbitmqSource delivery when the manifest has none: no retries, the adapter's
    /// 50 ms backoff should some be set, and (where Knative waits without limit) 600 s per
    /// attempt, as Knative's Kafka dispatcher.
    static let defaultDelivery = SourceRoute.Defaults(retry: 0, backoffDelay: .milliseconds(50), timeout: .seconds(600))

    init(manifest: RabbitmqSourceManifest, fingerprint: String, endpoint: AMQPConnection.Endpoint, route: DeliveryRoute,
         metrics: RabbitmqSourceMetrics, loop: EventLoop, deliverer: Deliverer, logger: Logger) throws(IOError) {
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.endpoint = endpoint
        self.route = route
        self.metrics = metrics
        self.loop = loop
        self.deliverer = deliverer
        var logger = logger
        logger[metadataKey: "rabbitmqsource"] = "\(manifest.meta.namespace)/\(manifest.meta.name)"
        self.logger = logger
        eventSource = "/apis/v1/namespaces/\(manifest.meta.namespace)/rabbitmqsources/\(manifest.meta.name)#\(manifest.queueName)"
        inbox = MPMCQueue(capacity: 2 * manifest.parallelism + 16)
        outbox = MPMCQueue(capacity: 2 * manifest.parallelism + 16)
        wake = try EventCounter()
    }

    deinit {
        // Only now: until the last delivery finished, the loop may still signal it.
        wake.close()
    }

    /// Starts the thread that connects and consumes.
    func start() throws(IOError) {
        let consumer = RabbitmqSourceConsumer(runtime: self)
        try LoopThread(name: "sluice-amqp") { consumer.run() }.detach()
    }

    /// Stops consuming: deliveries in flight get `grace` to finish and be acked, the rest is
    /// left to the server, which gives it out again. `done` runs once the connection is closed.
    func stop(grace: Duration, done: @escaping @Sendable () -> Void) {
        stopped.withLock { $0 = (grace, done) }
        stopping.store(true, ordering: .releasing)
        wake.signal()
    }

    // MARK: Thread → loop

    /// Called by the thread after it put messages in the inbox.
    func messagesWaiting() {
        guard !inboxScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.execute { [self] in deliverWaiting() }
    }

    private func deliverWaiting() {
        // An exchange, not a store: a plain store may become visible only after the drain
        // below has read the queue (x86 lets a load pass an earlier store), so the thread could
        // see the flag still set, skip scheduling, and leave its last messages undelivered.
        // The read-modify-write orders the two: the thread either sees the flag clear, or its
        // own exchange came first and the drain sees what it enqueued.
        _ = inboxScheduled.exchange(false, ordering: .acquiringAndReleasing)
        let current = generation.load(ordering: .acquiring)
        let now = Monotonic.now()
        _ = inbox.drain { received in
            guard received.generation == current else { return }
            guard !stopping.load(ordering: .relaxed) else {
                return settle(Settled(tag: received.tag, generation: received.generation, settlement: .release))
            }
            deliverer.deliver(StoredEvent(event: received.event, position: StreamPosition(partition: Int32(bitPattern: received.generation),
                                                                                            offset: received.tag),
                                          arrivedAt: now),
                              route: route, owner: self)
        }
    }

    // MARK: Deliverer.Owner (on the loop)

    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {}

    func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        // Delivered or dead-lettered: done with. Dropped (no dead-letter sink, or it failed
        // too): rejected without requeue, so a dead-letter exchange of the queue gets it.
        settle(Settled(tag: event.position.offset, generation: UInt32(bitPattern: event.position.partition),
                       settlement: outcome == .dropped ? .nack : .ack))
    }

    /// Called by the thread before it drains the outbox: later settlements signal again. (An
    /// exchange for the reason given in `deliverWaiting`.)
    func lookingAtOutbox() {
        _ = outboxSignalled.exchange(false, ordering: .acquiringAndReleasing)
    }

    private func settle(_ settled: Settled) {
        if let refused = outbox.tryEnqueue(settled) { overflow.withLock { $0.append(refused) } }
        if !outboxSignalled.exchange(true, ordering: .acquiringAndReleasing) { wake.signal() }
    }

    // MARK: Health

    func connected() {
        health.withLock { $0 = (true, nil) }
        metrics.connected.record(1)
    }

    func disconnected(_ error: AMQPError) {
        health.withLock { $0 = (false, error.description) }
        metrics.connected.record(0)
    }

    /// Why the source is not ready: it has no connection to RabbitMQ.
    var unreachable: String? {
        let (connected, failure) = health.withLock { $0 }
        guard !connected else { return nil }
        return "RabbitmqSource \(manifest.meta.namespace)/\(manifest.meta.name): not connected to RabbitMQ at \(endpoint)"
            + (failure.map { ": \($0)" } ?? " yet")
    }
}
