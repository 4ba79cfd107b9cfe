import SluiceCloudEvents
import SluiceHTTP
import SluiceIO
import SluiceStorage

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
/// the whole schedule can be driven in-process by a test. An event's progress lives in one
/// `InFlight` object, so an attempt costs one closure (the transport's answer), not a chain.
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

    /// Who hands events to the core and hears back: a queue's dispatcher, a source. Called on
    /// the scheduler. (A protocol rather than closures: no allocation per event.)
    public protocol Owner: AnyObject, Sendable {
        /// An attempt at `event` failed and another is due at `nextAttemptAt` (wall-clock
        /// milliseconds) after `attempts` attempts: a durable queue records it.
        func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64)
        /// `event` is delivered, dead-lettered or dropped.
        func finished(_ event: StoredEvent, outcome: Outcome)
        /// Asked before each retry: false when `event` is no longer this owner's to deliver
        /// (its Kafka partition went to another process, which resumes its retries), so the
        /// retry is not made and the event ends as `handedOver`.
        func keeps(_ event: StoredEvent) -> Bool
    }

    public enum Outcome: Sendable, Equatable {
        case delivered
        case deadLettered
        /// Given up: no dead-letter sink, or it failed too.
        case dropped
        /// Left to another owner between two attempts (see `Owner.keeps`).
        case handedOver
    }

    /// One event on its way: to the subscriber first, then, if that fails for good, to the
    /// dead-letter sink. Touched only on the scheduler.
    private final class InFlight: @unchecked Sendable {
        let stored: StoredEvent
        let route: DeliveryRoute
        let owner: any Owner
        /// The attempt being made (1-based) at the current destination.
        var number: Int
        /// Set once the subscriber failed for good: the event for the sink and why.
        var deadLetter: DeadLetterAttempt?
        /// The request to an HTTP subscriber, made at the first attempt.
        var request: DeliveryRequest?

        init(stored: StoredEvent, route: DeliveryRoute, owner: any Owner, number: Int) {
            self.stored = stored
            self.route = route
            self.owner = owner
            self.number = number
        }

        var event: CloudEvent { stored.event }

        func finish(_ outcome: Outcome) {
            owner.finished(stored, outcome: outcome)
        }
    }

    /// What goes to the dead-letter sink once the subscriber failed for good.
    private struct DeadLetterAttempt {
        let letter: CloudEvent
        let sink: DeliveryTarget
        /// The subscriber's last failure, which the letter reports.
        let failure: DeliveryFailure
    }

    /// Delivers `stored.event` along `route`, resuming at the attempt and time it records;
    /// tells `owner` of each retry and of the end, on the scheduler.
    public func deliver(_ stored: StoredEvent, route: DeliveryRoute, owner: any Owner) {
        let flight = InFlight(stored: stored, route: route, owner: owner, number: min(stored.attemptsMade + 1, route.policy.attempts))
        if stored.arrivedAt > 0 {
            let waited = Int64(clamping: Monotonic.now() &- stored.arrivedAt)
            stored.event.withView { route.monitor.metrics.process.record(shard: shard, type: $0.value(of: AttributeName.type), status: nil,
                                                                      nanoseconds: waited) }
        }
        // An event recovered in the middle of its retries waits for the attempt that was due.
        let wait = stored.nextAttemptAt - scheduler.wallClockMilliseconds()
        if stored.attemptsMade > 0 && wait > 0 {
            scheduler.perform(after: .milliseconds(wait)) { [self] in retry(flight) }
        } else {
            attempt(flight)
        }
    }

    // MARK: The retry loop

    /// Makes the attempt that was waiting, unless the event went to another owner meanwhile.
    private func retry(_ flight: InFlight) {
        guard flight.owner.keeps(flight.stored) else { return flight.finish(.handedOver) }
        attempt(flight)
    }

    /// Makes attempt `flight.number` at the current destination.
    private func attempt(_ flight: InFlight) {
        let route = flight.route
        if let deadLetter = flight.deadLetter {
            return send(deadLetter.letter, to: deadLetter.sink, route: route) { [self] result in attemptEnded(flight, failure: result.failure) }
        }
        route.monitor.attempted()
        guard case .http(let url) = route.subscriber else {
            // A subscriber in this process (a Broker ref) takes the event as a sink does.
            return send(flight.event, to: route.subscriber, route: route) { [self] result in subscriberAnswered(flight, result) }
        }
        // The subscriber's request is the same for every attempt: made once, kept by the flight.
        let request = flight.request ?? DeliveryRequest(event: flight.event, url: url, timeout: route.policy.timeout,
                                                        format: route.options.format, preferReply: true,
                                                        decodesReply: route.replies != nil, headerLines: route.options.headerLines,
                                                        hiddenAttribute: route.options.carriedAttribute)
        flight.request = request
        let started = Monotonic.now()
        transport.send(request) { [self] answer in
            let elapsed = Int64(clamping: Monotonic.now() &- started)
            let status: Int
            switch answer {
            case .response(let code, _, _, _):
                status = code
                route.monitor.subscriberAnswered(target: route.subscriber)
            case .unreachable(let reason, _):
                status = 500
                route.monitor.subscriberUnreachable(flight.event, target: route.subscriber, reason: reason)
            }
            flight.event.withView { route.monitor.metrics.dispatch.record(shard: shard, type: $0.value(of: AttributeName.type),
                                                                          status: status, nanoseconds: elapsed) }
            subscriberAnswered(flight, Deliverer.result(of: answer, from: url))
        }
    }

    /// The subscriber's answer: replies go on, anything else ends the attempt.
    private func subscriberAnswered(_ flight: InFlight, _ result: Result<DeliveryAnswer.Reply, DeliveryFailure>) {
        let route = flight.route
        switch result {
        case .failure(let failure):
            attemptEnded(flight, failure: failure)
        case .success(.events(let replies)) where !replies.isEmpty && route.replies != nil:
            forward(replies, of: flight.event, route: route) { [self] failure in attemptEnded(flight, failure: failure) }
        case .success(.invalid(let reason)):
            route.monitor.replyIgnored(flight.event, reason: reason)
            attemptEnded(flight, failure: nil)
        case .success:
            attemptEnded(flight, failure: nil)
        }
    }

    /// An attempt ended: done, retried after its backoff, or failed for good at this
    /// destination (the dead-letter sink goes through the same loop).
    private func attemptEnded(_ flight: InFlight, failure: DeliveryFailure?) {
        let route = flight.route
        guard let failure else {
            if let deadLetter = flight.deadLetter {
                route.monitor.deadLettered(flight.event, sink: deadLetter.sink, failure: deadLetter.failure)
                return flight.finish(.deadLettered)
            }
            route.monitor.delivered()
            return flight.finish(.delivered)
        }
        let policy = route.policy
        if failure.retryable && flight.number < policy.attempts {
            let wait = policy.wait(beforeRetry: flight.number, status: failure.status, retryAfter: failure.retryAfter, jitter: nextJitter())
            if flight.deadLetter == nil {
                route.monitor.retried()
                flight.owner.retrying(flight.stored, attempts: flight.number, nextAttemptAt: scheduler.wallClockMilliseconds() + WallClock.milliseconds(wait))
            }
            flight.number += 1
            scheduler.perform(after: wait) { [self] in retry(flight) }
            return
        }
        if let deadLetter = flight.deadLetter {
            route.monitor.dropped(flight.event, failure: deadLetter.failure, deadLetterFailure: failure)
            return flight.finish(.dropped)
        }
        guard let sink = policy.deadLetter else {
            route.monitor.dropped(flight.event, failure: failure, deadLetterFailure: nil)
            return flight.finish(.dropped)
        }
        let letter = DeadLetter.event(for: flight.event, destination: failure.destination, status: failure.status, body: failure.body)
        flight.deadLetter = DeadLetterAttempt(letter: letter, sink: sink, failure: failure)
        flight.number = 1
        attempt(flight)
    }

    // MARK: Replies

    /// Sends reply events on, with the carried attribute of the event they answer. A refusal
    /// that may pass (a full broker) fails the attempt, so the delivery is retried; one that
    /// cannot (a TTL run out) fails it for good.
    private func forward(_ replies: [CloudEvent], of event: CloudEvent, route: DeliveryRoute,
                         done: @escaping @Sendable (DeliveryFailure?) -> Void) {
        guard let destination = route.replies else { return done(nil) }
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
        send(next, to: destination, route: route) { [self] result in
            if let failure = result.failure { return done(failure) }
            sendEach(events.dropFirst(), to: destination, route: route, done: done)
        }
    }

    // MARK: Sending

    /// Sends an event that expects no reply (a dead letter, a reply going on, an event to a
    /// subscriber in this process).
    private func send(_ event: CloudEvent, to target: DeliveryTarget, route: DeliveryRoute,
                      completion: @escaping @Sendable (Result<DeliveryAnswer.Reply, DeliveryFailure>) -> Void) {
        switch target {
        case .local(let sink):
            accept([event], by: sink) { completion($0.map { .none }) }
        case .http(let url):
            let request = DeliveryRequest(event: event, url: url, timeout: route.policy.timeout, format: route.options.format,
                                          preferReply: false, decodesReply: false, headerLines: route.options.headerLines)
            transport.send(request) { answer in completion(Deliverer.result(of: answer, from: url)) }
        }
    }

    /// What an answer means for the attempt: its reply, or why it failed.
    private static func result(of answer: DeliveryAnswer, from url: HTTPURL) -> Result<DeliveryAnswer.Reply, DeliveryFailure> {
        switch answer {
        case .response(let status, let body, let retryAfter, let reply):
            if (200..<300).contains(status) { return .success(reply) }
            return .failure(DeliveryFailure(status: status, body: body, retryAfter: retryAfter,
                                            retryable: DeliveryPolicy.isRetryable(status: status),
                                            destination: url.description, reason: "HTTP \(status)"))
        case .unreachable(let reason, let permanent):
            // An unreachable destination counts as 500 (Knative's dispatch error).
            return .failure(DeliveryFailure(status: 500, body: Array("dispatch error: \(reason)".utf8), retryAfter: nil,
                                            retryable: !permanent, destination: url.description, reason: reason))
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

extension Deliverer.Owner {
    /// Most owners keep their events to the end.
    public func keeps(_ event: StoredEvent) -> Bool { true }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
