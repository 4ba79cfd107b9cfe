import Logging
import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import SluiceIO
import SluiceStorage
import Synchronization

/// Delivers a trigger's events to its subscriber from one event loop, with at most `window`
/// deliveries in flight. A trigger has one dispatcher per loop (see `TriggerDelivery`), all
/// taking from the same queue. Retries wait on the loop's timers, never on a thread, so a
/// slow or dead subscriber holds only its own window and never the producer or other triggers.
///
/// Each event is taken from the trigger's queue, POSTed in binary mode with `Prefer: reply`
/// and `Kn-Namespace`, retried per the delivery policy, sent to the dead-letter sink after the
/// last failure, and reported done to the queue. A 2xx answer carrying a CloudEvent is a reply
/// and goes back into the broker, with the TTL the delivered event had.
public final class TriggerDispatcher: @unchecked Sendable {  // loop-confined, except `wake`
    public struct Route: Sendable {
        public var namespace: String
        public var name: String
        public var subscriber: DeliveryTarget
        public var policy: DeliveryPolicy
        /// Where replies go (the trigger's broker); nil drops them.
        public var replies: (any EventSink)?

        /// "Kn-Namespace: <namespace>\r\n", written into every delivery.
        let namespaceLine: [UInt8]

        public init(namespace: String, name: String, subscriber: DeliveryTarget, policy: DeliveryPolicy, replies: (any EventSink)?) {
            self.namespace = namespace
            self.name = name
            self.subscriber = subscriber
            self.policy = policy
            self.replies = replies
            namespaceLine = DeliveryHeaders.namespaceLine(namespace)
        }
    }

    public let loop: EventLoop
    public let queue: any TriggerQueue
    public let metrics: DeliveryMetrics
    private let client: HTTPClient
    private let logger: Logger
    private var route: Route
    private let window: Int
    private var inFlight = 0
    private let scheduled = Atomic<Bool>(false)
    private var stopped = false
    private var decoder = HTTPEventDecoder()
    private var random: UInt64
    /// Called when this dispatcher's window is full and events are still waiting: lets a
    /// sibling on another loop take some.
    var onBacklog: (@Sendable () -> Void)?

    public init(route: Route, queue: any TriggerQueue, loop: EventLoop, client: HTTPClient, window: Int = 100,
                metrics: DeliveryMetrics = DeliveryMetrics(), logger: Logger = Logger(label: "sluice.delivery")) {
        self.route = route
        self.queue = queue
        self.loop = loop
        self.client = client
        self.window = max(1, window)
        self.metrics = metrics
        self.logger = logger
        random = UInt64(truncatingIfNeeded: ObjectIdentifier(queue).hashValue) | 1
    }

    /// Starts taking events on its own (without siblings). Call once.
    public func start() {
        queue.setWaker { [weak self] in self?.wake() }
        wake()
    }

    /// Replaces the route (subscriber, policy) after a configuration reload. Events in flight
    /// finish under the route they started with.
    public func update(_ route: Route) {
        loop.execute { [self] in self.route = route }
    }

    /// Stops taking new events (the trigger was removed). Events in flight finish.
    public func stop() {
        loop.execute { [self] in self.stopped = true }
    }

    /// Schedules a pump on the home loop, once however many producers call it meanwhile.
    public func wake() {
        if !scheduled.load(ordering: .relaxed), !scheduled.exchange(true, ordering: .acquiringAndReleasing) {
            loop.execute { [self] in self.pump() }
        }
    }

    private func pump() {
        scheduled.store(false, ordering: .releasing)
        while !stopped, inFlight < window, let stored = queue.next() {
            inFlight += 1
            begin(stored, route: route)
        }
        if inFlight == window && queue.hasWaiting { onBacklog?() }
    }

    // MARK: Attempts

    /// The first attempt of this process: attempt 1 of a new event, or, for an event recovered
    /// in the middle of its retries, the next attempt at the time that was due.
    private func begin(_ stored: StoredEvent, route: Route) {
        let number = min(stored.attemptsMade + 1, route.policy.attempts)
        let wait = stored.nextAttemptAt - WallClock.milliseconds()
        if stored.attemptsMade > 0 && wait > 0 {
            loop.schedule(after: .milliseconds(wait)) { [self] in self.attempt(stored, number: number, route: route) }
        } else {
            attempt(stored, number: number, route: route)
        }
    }

    private func attempt(_ stored: StoredEvent, number: Int, route: Route) {
        metrics.attempts.add(1, ordering: .relaxed)
        send(stored.event, to: route.subscriber, route: route, preferReply: true) { [self] outcome in
            self.handle(outcome, stored: stored, number: number, route: route)
        }
    }

    private func handle(_ outcome: Outcome, stored: StoredEvent, number: Int, route: Route) {
        switch outcome {
        case .delivered(let response):
            guard let response, let replies = route.replies else {
                finish(stored, result: .delivered)
                return
            }
            forwardReply(response, of: stored, to: replies, number: number, route: route)
        case .failed(let failure):
            if failure.retryable && number < route.policy.attempts {
                metrics.retries.add(1, ordering: .relaxed)
                let wait = route.policy.wait(beforeRetry: number, status: failure.status, retryAfter: failure.retryAfter, jitter: nextJitter())
                queue.retrying(stored, attempts: number, nextAttemptAt: WallClock.milliseconds() + WallClock.milliseconds(wait))
                loop.schedule(after: wait) { [self] in self.attempt(stored, number: number + 1, route: route) }
            } else {
                deadLetter(stored, failure: failure, destination: route.subscriber.description, route: route)
            }
        }
    }

    /// A reply goes back into the broker with the TTL the delivered event had. If storing it
    /// fails for a reason that may pass, the delivery is retried as the spec requires.
    private func forwardReply(_ response: HTTPClientResponse, of stored: StoredEvent, to replies: any EventSink, number: Int, route: Route) {
        let replyEvents: [CloudEvent]
        do {
            guard let decoded = try decoder.decodeReply(response, keepTransportHeader: PassThroughHeaders.keeps) else {
                finish(stored, result: .delivered)  // a 2xx body that is not an event is ignored
                return
            }
            replyEvents = decoded
        } catch {
            logger.info("ignoring a reply that is not a valid CloudEvent", metadata: ["trigger": "\(route.namespace)/\(route.name)", "reason": "\(error)"])
            finish(stored, result: .delivered)
            return
        }
        let ttl = stored.event.string(AttributeName.knativebrokerttl)
        let withTTL = replyEvents.map { event in
            event.modified { builder in
                if let ttl { builder.set(trusted: AttributeName.knativebrokerttl, value: ttl, kind: .integer) }
            }
        }
        metrics.replies.add(withTTL.count, ordering: .relaxed)
        replies.accept(withTTL) { [self] rejection in
            self.loop.execute { [self] in
                guard let rejection else {
                    self.finish(stored, result: .delivered)
                    return
                }
                let failure = Failure(status: rejection.status, body: Array(rejection.reason.utf8), retryAfter: nil, retryable: rejection.retryable)
                if rejection.retryable {
                    self.handle(.failed(failure), stored: stored, number: number, route: route)
                } else {
                    self.logger.info("reply refused by the broker", metadata: ["trigger": "\(route.namespace)/\(route.name)", "reason": "\(rejection.reason)"])
                    self.metrics.repliesRefused.add(1, ordering: .relaxed)
                    self.deadLetter(stored, failure: failure, destination: replies.address, route: route)
                }
            }
        }
    }

    // MARK: Dead letters

    private func deadLetter(_ stored: StoredEvent, failure: Failure, destination: String, route: Route) {
        guard let sink = route.policy.deadLetter else {
            metrics.dropped.add(1, ordering: .relaxed)
            logger.warning("delivery failed and the trigger has no dead-letter sink; event dropped", metadata: [
                "trigger": "\(route.namespace)/\(route.name)", "id": "\(stored.event.id)", "status": "\(failure.status)",
            ])
            finish(stored, result: .dropped)
            return
        }
        let letter = DeadLetter.event(for: stored.event, destination: destination, status: failure.status, body: failure.body)
        sendDeadLetter(letter, of: stored, to: sink, number: 1, route: route)
    }

    private func sendDeadLetter(_ letter: CloudEvent, of stored: StoredEvent, to sink: DeliveryTarget, number: Int, route: Route) {
        send(letter, to: sink, route: route, preferReply: false) { [self] outcome in
            switch outcome {
            case .delivered:
                self.metrics.deadLettered.add(1, ordering: .relaxed)
                self.finish(stored, result: .deadLettered)
            case .failed(let failure) where failure.retryable && number < route.policy.attempts:
                let wait = route.policy.wait(beforeRetry: number, status: failure.status, retryAfter: failure.retryAfter, jitter: self.nextJitter())
                self.loop.schedule(after: wait) { [self] in self.sendDeadLetter(letter, of: stored, to: sink, number: number + 1, route: route) }
            case .failed(let failure):
                self.metrics.deadLetterFailures.add(1, ordering: .relaxed)
                self.logger.error("dead-letter sink failed; event dropped", metadata: [
                    "trigger": "\(route.namespace)/\(route.name)", "id": "\(stored.event.id)", "sink": "\(sink)", "status": "\(failure.status)",
                ])
                self.finish(stored, result: .dropped)
            }
        }
    }

    private enum Result {
        case delivered, deadLettered, dropped
    }

    private func finish(_ stored: StoredEvent, result: Result) {
        if result == .delivered { metrics.delivered.add(1, ordering: .relaxed) }
        queue.done(stored)
        inFlight -= 1
        pump()
    }

    // MARK: Sending

    enum Outcome: Sendable {
        /// A 2xx answer (nil for local sinks, which do not reply).
        case delivered(HTTPClientResponse?)
        case failed(Failure)
    }

    struct Failure: Sendable {
        var status: Int
        var body: [UInt8]
        var retryAfter: Duration?
        var retryable: Bool
    }

    private func send(_ event: CloudEvent, to target: DeliveryTarget, route: Route, preferReply: Bool,
                      completion: @escaping @Sendable (Outcome) -> Void) {
        switch target {
        case .local(let sink):
            let loop = self.loop
            sink.accept([event]) { rejection in
                let outcome: Outcome = rejection.map {
                    .failed(Failure(status: $0.status, body: Array($0.reason.utf8), retryAfter: nil, retryable: $0.retryable))
                } ?? .delivered(nil)
                loop.execute { completion(outcome) }
            }
        case .http(let url):
            var request = HTTPClientRequest(method: .post, url: url, body: event.data ?? [],
                                            timeout: route.policy.timeout, resendOnStaleConnection: true)
            request.headerWriter = DeliveryHeaders(event: event, namespaceLine: route.namespaceLine, preferReply: preferReply)
            client.execute(request, on: loop) { result in
                switch result {
                case .success(let response) where (200..<300).contains(response.status):
                    completion(.delivered(response))
                case .success(let response):
                    completion(.failed(Failure(status: response.status, body: response.body,
                                               retryAfter: response.header("retry-after").flatMap { RetryAfter.parse($0) },
                                               retryable: DeliveryPolicy.isRetryable(status: response.status))))
                case .failure(let error):
                    // An unreachable subscriber counts as 500 (Knative's dispatch error).
                    completion(.failed(Failure(status: 500, body: Array("dispatch error: \(error)".utf8), retryAfter: nil, retryable: true)))
                }
            }
        }
    }

    /// A uniform number in [0, 1) from a per-dispatcher xorshift (no system call per retry).
    private func nextJitter() -> Double {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return Double(random >> 11) / Double(1 << 53)
    }
}

/// A trigger's delivery: one dispatcher per event loop, sharing the trigger's queue and
/// window. The store wakes the dispatcher of the loop it is called on (the ingress loop that
/// stored the event), so a delivery usually starts on the core that received the event, with
/// no thread hop; a dispatcher whose window is full wakes the next one, so a busy trigger's
/// deliveries spread over every core.
public final class TriggerDelivery: Sendable {
    public let queue: any TriggerQueue
    public let metrics: DeliveryMetrics
    let shards: [TriggerDispatcher]

    public init(route: TriggerDispatcher.Route, queue: any TriggerQueue, loops: [EventLoop], client: HTTPClient,
                window: Int, logger: Logger) {
        self.queue = queue
        let metrics = DeliveryMetrics()
        self.metrics = metrics
        let share = max(1, (window + loops.count - 1) / loops.count)
        shards = loops.map { TriggerDispatcher(route: route, queue: queue, loop: $0, client: client, window: share,
                                               metrics: metrics, logger: logger) }
        for (position, shard) in shards.enumerated() {
            let next = shards[(position + 1) % shards.count]
            if next !== shard { shard.onBacklog = { [weak next] in next?.wake() } }
        }
    }

    public func start() {
        queue.setWaker { [weak self] in self?.wakeNearest() }
        for shard in shards { shard.wake() }
    }

    public func update(_ route: TriggerDispatcher.Route) {
        for shard in shards { shard.update(route) }
    }

    public func stop() {
        for shard in shards { shard.stop() }
    }

    /// Wakes the dispatcher on the calling loop, or the first one off the loops.
    private func wakeNearest() {
        if let loop = EventLoop.currentLoop, loop.index < shards.count, shards[loop.index].loop === loop {
            shards[loop.index].wake()
        } else {
            shards[0].wake()
        }
    }
}

/// Counters of one trigger's deliveries.
public final class DeliveryMetrics: Sendable {
    public let attempts = Atomic<Int>(0)
    public let delivered = Atomic<Int>(0)
    public let retries = Atomic<Int>(0)
    public let deadLettered = Atomic<Int>(0)
    public let deadLetterFailures = Atomic<Int>(0)
    public let dropped = Atomic<Int>(0)
    public let replies = Atomic<Int>(0)
    public let repliesRefused = Atomic<Int>(0)

    public init() {}
}
