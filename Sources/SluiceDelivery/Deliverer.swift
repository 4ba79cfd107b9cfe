import SluiceCloudEvents
import SluiceIO

/// Why one attempt failed, in the terms the dead-letter extensions report.
public struct DeliveryFailure: Error, Sendable, Equatable {
    /// The HTTP status (500 when nothing answered, Knative's dispatch error).
    public var status: Int
    /// The answer's body (the first 1024 bytes become `knativeerrordata`).
    public var body: [UInt8]
    public var retryAfter: Duration?
    public var retryable: Bool
    /// Where it failed (`knativeerrordest`): the subscriber, or the sink its reply went to.
    public var destination: String
    /// For logs.
    public var reason: String
}

/// The delivery core: delivers one event to a destination under a delivery policy, on one
/// scheduler (an event loop). Every caller that delivers (trigger and subscription
/// dispatchers, sources) goes through it, so they share one behaviour:
///
/// - attempt n waits for its backoff (linear or exponential from `backoffDelay`, jittered,
///   capped), lengthened by `Retry-After` on 429 and 503; 5xx, 404, 408, 409, 429 and
///   connection failures are retried, other answers are final;
/// - a 2xx answer's reply events go to the route's reply destination (in process or over
///   HTTP), with the carried attribute put back; a reply that cannot be stored counts as a
///   failed attempt;
/// - after the last attempt the event goes to the dead-letter sink with `knativeerrordest`,
///   `knativeerrorcode` and `knativeerrordata`, through the same retry loop;
/// - it is dropped, and said so in the log, when there is no sink or the sink fails too.
///
/// Everything runs on the scheduler's thread; the transport and the clock are injected, so
/// the whole schedule can be driven in-process by a test.
public final class Deliverer: @unchecked Sendable {  // confined to its scheduler
    public let scheduler: any DeliveryScheduler
    private let transport: any DeliveryTransport
    /// Which loop this deliverer runs on: the metrics keep one cache per loop.
    public let shard: Int
    private var random: UInt64

    public init(scheduler: any DeliveryScheduler, transport: any DeliveryTransport, shard: Int = 0, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        self.scheduler = scheduler
        self.transport = transport
        self.shard = shard
        random = seed | 1
    }

    /// One event's delivery.
    public struct Job: Sendable {
        public var event: CloudEvent
        /// Attempts made before this process took the event over (recovered from disk).
        public var attemptsMade: Int
        /// When the next attempt is due, in wall-clock milliseconds (0: now).
        public var nextAttemptAt: Int64
        /// When the event was stored, in monotonic nanoseconds (0: unknown, as after a restart).
        public var arrivedAt: UInt64
        /// Called when an attempt failed and another is scheduled: the attempts made so far and
        /// when the next is due (a durable queue records it).
        public var onRetry: (@Sendable (_ attempts: Int, _ nextAttemptAt: Int64) -> Void)?

        public init(event: CloudEvent, attemptsMade: Int = 0, nextAttemptAt: Int64 = 0, arrivedAt: UInt64 = 0,
                    onRetry: (@Sendable (_ attempts: Int, _ nextAttemptAt: Int64) -> Void)? = nil) {
            self.event = event
            self.attemptsMade = attemptsMade
            self.nextAttemptAt = nextAttemptAt
            self.arrivedAt = arrivedAt
            self.onRetry = onRetry
        }
    }

    public enum Outcome: Sendable, Equatable {
        case delivered
        case deadLettered
        /// Given up: no dead-letter sink, or it failed too.
        case dropped
    }

    /// Delivers `job.event` along `route`; `completion` runs on the scheduler once the event
    /// is delivered, dead-lettered or dropped.
    public func deliver(_ job: Job, route: DeliveryRoute, completion: @escaping @Sendable (Outcome) -> Void) {
        let first = min(job.attemptsMade + 1, route.policy.attempts)
        if job.arrivedAt > 0 {
            let waited = Monotonic.now() &- job.arrivedAt
            job.event.withView { route.monitor.metrics.process.record(shard: shard, type: $0.value(of: AttributeName.type), status: nil,
                                                                      nanoseconds: Int64(clamping: waited)) }
        }
        let monitor = route.monitor
        let onRetry: @Sendable (Int, Int64) -> Void = { attempts, nextAttemptAt in
            monitor.retried()
            job.onRetry?(attempts, nextAttemptAt)
        }
        let start: @Sendable () -> Void = { [self] in
            retrying(from: first, policy: route.policy, onRetry: onRetry, attempt: { [self] number, done in
                monitor.attempted()
                attemptSubscriber(job.event, route: route, done: done)
            }, completion: { [self] failure in
                guard let failure else {
                    route.monitor.delivered()
                    completion(.delivered)
                    return
                }
                deadLetter(job.event, after: failure, route: route, completion: completion)
            })
        }
        // An event recovered in the middle of its retries waits for the attempt that was due.
        let wait = job.nextAttemptAt - scheduler.wallClockMilliseconds()
        if job.attemptsMade > 0 && wait > 0 {
            scheduler.perform(after: .milliseconds(wait), start)
        } else {
            start()
        }
    }

    // MARK: The retry loop

    /// Runs `attempt` numbered from `number` until it succeeds, fails for good, or the policy
    /// has no attempts left; `completion` gets nil on success or the last failure.
    private func retrying(from number: Int, policy: DeliveryPolicy, onRetry: (@Sendable (Int, Int64) -> Void)?,
                          attempt: @escaping @Sendable (Int, _ done: @escaping @Sendable (DeliveryFailure?) -> Void) -> Void,
                          completion: @escaping @Sendable (DeliveryFailure?) -> Void) {
        attempt(number) { [self] failure in
            guard let failure else {
                completion(nil)
                return
            }
            guard failure.retryable && number < policy.attempts else {
                completion(failure)
                return
            }
            let wait = policy.wait(beforeRetry: number, status: failure.status, retryAfter: failure.retryAfter, jitter: nextJitter())
            onRetry?(number, scheduler.wallClockMilliseconds() + WallClock.milliseconds(wait))
            scheduler.perform(after: wait) { [self] in
                retrying(from: number + 1, policy: policy, onRetry: onRetry, attempt: attempt, completion: completion)
            }
        }
    }

    // MARK: Attempts

    /// One attempt at the subscriber: the POST, then the reply's forwarding, if any.
    private func attemptSubscriber(_ event: CloudEvent, route: DeliveryRoute, done: @escaping @Sendable (DeliveryFailure?) -> Void) {
        let options = route.options
        send(event, to: route.subscriber, route: route, preferReply: true, decodesReply: route.replies != nil,
             hidden: options.carriedAttribute, isSubscriber: true) { [self] result in
            switch result {
            case .failure(let failure):
                done(failure)
            case .success(.events(let replies)) where !replies.isEmpty:
                guard let destination = route.replies else { return done(nil) }
                forward(replies, of: event, to: destination, route: route, done: done)
            case .success(.invalid(let reason)):
                route.monitor.replyIgnored(event, reason: reason)
                done(nil)
            case .success:
                done(nil)
            }
        }
    }

    /// Sends reply events on, with the carried attribute of the event they answer. A refusal
    /// that may pass (a full broker) fails the attempt, so the delivery is retried; one that
    /// cannot (a TTL run out) fails it for good.
    private func forward(_ replies: [CloudEvent], of event: CloudEvent, to destination: DeliveryTarget, route: DeliveryRoute,
                         done: @escaping @Sendable (DeliveryFailure?) -> Void) {
        var outgoing = replies
        if let carried = route.options.carriedAttribute, let value = event.string(carried) {
            outgoing = replies.map { reply in reply.modified { $0.set(trusted: carried, value: value, kind: .integer) } }
        }
        route.monitor.repliesForwarded(outgoing.count)
        sendEach(outgoing[...], to: destination, route: route) { failure in
            if let failure, !failure.retryable { route.monitor.replyRefused(event, by: destination.description, reason: failure.reason) }
            done(failure)
        }
    }

    private func sendEach(_ events: ArraySlice<CloudEvent>, to destination: DeliveryTarget, route: DeliveryRoute,
                          done: @escaping @Sendable (DeliveryFailure?) -> Void) {
        if case .local(let sink) = destination {
            // A sink in this process takes them all at once (one batch into a broker).
            return accept(Array(events), by: sink) { done($0.failure) }
        }
        guard let next = events.first else { return done(nil) }
        send(next, to: destination, route: route, preferReply: false, decodesReply: false, hidden: nil, isSubscriber: false) { [self] result in
            if let failure = result.failure { return done(failure) }
            sendEach(events.dropFirst(), to: destination, route: route, done: done)
        }
    }

    // MARK: Dead letters

    private func deadLetter(_ event: CloudEvent, after failure: DeliveryFailure, route: DeliveryRoute,
                            completion: @escaping @Sendable (Outcome) -> Void) {
        guard let sink = route.policy.deadLetter else {
            route.monitor.dropped(event, failure: failure, deadLetterFailure: nil)
            return completion(.dropped)
        }
        let letter = DeadLetter.event(for: event, destination: failure.destination, status: failure.status, body: failure.body)
        retrying(from: 1, policy: route.policy, onRetry: nil, attempt: { [self] _, done in
            send(letter, to: sink, route: route, preferReply: false, decodesReply: false, hidden: nil, isSubscriber: false) { done($0.failure) }
        }, completion: { sinkFailure in
            if let sinkFailure {
                route.monitor.dropped(event, failure: failure, deadLetterFailure: sinkFailure)
                completion(.dropped)
            } else {
                route.monitor.deadLettered(event, sink: sink, failure: failure)
                completion(.deadLettered)
            }
        })
    }

    // MARK: Sending

    private func send(_ event: CloudEvent, to target: DeliveryTarget, route: DeliveryRoute, preferReply: Bool, decodesReply: Bool,
                      hidden: StaticString?, isSubscriber: Bool,
                      completion: @escaping @Sendable (Result<DeliveryAnswer.Reply, DeliveryFailure>) -> Void) {
        switch target {
        case .local(let sink):
            accept([event], by: sink) { completion($0.map { .none }) }
        case .http(let url):
            let request = DeliveryRequest(event: event, url: url, timeout: route.policy.timeout, format: route.options.format,
                                          preferReply: preferReply, decodesReply: decodesReply,
                                          headerLines: route.options.headerLines, hiddenAttribute: hidden)
            let started = Monotonic.now()
            let shard = self.shard
            transport.send(request) { answer in
                if isSubscriber {
                    let status: Int
                    switch answer {
                    case .response(let code, _, _, _): status = code
                    case .unreachable: status = 500
                    }
                    let elapsed = Int64(clamping: Monotonic.now() &- started)
                    event.withView { route.monitor.metrics.dispatch.record(shard: shard, type: $0.value(of: AttributeName.type), status: status,
                                                                           nanoseconds: elapsed) }
                }
                switch answer {
                case .response(let status, let body, let retryAfter, let reply):
                    if isSubscriber { route.monitor.subscriberAnswered(target: target) }
                    if (200..<300).contains(status) { return completion(.success(reply)) }
                    completion(.failure(DeliveryFailure(status: status, body: body, retryAfter: retryAfter,
                                                        retryable: DeliveryPolicy.isRetryable(status: status),
                                                        destination: url.description, reason: "HTTP \(status)")))
                case .unreachable(let reason):
                    if isSubscriber { route.monitor.subscriberUnreachable(event, target: target, reason: reason) }
                    // An unreachable destination counts as 500 (Knative's dispatch error).
                    completion(.failure(DeliveryFailure(status: 500, body: Array("dispatch error: \(reason)".utf8), retryAfter: nil,
                                                        retryable: true, destination: url.description, reason: reason)))
                }
            }
        }
    }

    /// Hands events to a sink in this process; the answer comes back on the scheduler.
    private func accept(_ events: [CloudEvent], by sink: any EventSink, completion: @escaping @Sendable (Result<Void, DeliveryFailure>) -> Void) {
        let scheduler = self.scheduler
        sink.accept(events) { rejection in
            let result: Result<Void, DeliveryFailure> = rejection.map {
                .failure(DeliveryFailure(status: $0.status, body: Array($0.reason.utf8), retryAfter: nil, retryable: $0.retryable,
                                         destination: sink.address, reason: $0.reason))
            } ?? .success(())
            scheduler.perform { completion(result) }
        }
    }

    /// A uniform number in [0, 1) from a per-deliverer xorshift (no system call per retry).
    private func nextJitter() -> Double {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return Double(random >> 11) / Double(1 << 53)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
