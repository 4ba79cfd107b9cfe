import Logging
import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceStorage

/// Broker and channel ingress: `POST /<namespace>/<broker>` (and a channel's addresses, see
/// `Ingress+Channels.swift`) with a CloudEvent in binary, structured or batched mode, answered
/// as Knative's broker ingress answers (`ingress_handler.go`):
/// OPTIONS 200 with `Allow` and the webhook headers, other methods 405, unknown broker 404,
/// a bad path or a bad event 400 with the reason, 413 over the body limit (the HTTP layer),
/// 202 once every event is stored, 503 with `Retry-After` when the broker is full.
public final class Ingress: Sendable {
    let controller: DataPlaneController
    let states: [LoopState]
    /// Who may post (OIDC sender identity and EventPolicy); open without an authenticator.
    let gate: IngressGate
    let logger = Logger(label: "sluice.ingress")

    /// What each loop keeps for the requests it serves: decoding scratch and its own
    /// reference to the current data plane (published by `loop.execute`, so reading it takes
    /// no lock).
    final class LoopState: @unchecked Sendable {
        /// Stamps events as a broker ingress does; channels take them as they come.
        var decoder = HTTPEventDecoder()
        var channelDecoder = HTTPEventDecoder()
        var plane = DataPlane.empty
        var scratch: [Int] = []
        let clock = ArrivalClock()

        init() {
            let clock = self.clock
            decoder.prepare = { (builder: inout CloudEventBuilder) throws(CloudEventError) in
                try IngressStamp.apply(to: &builder, clock: clock)
            }
        }
    }

    public init(controller: DataPlaneController, group: EventLoopGroup, authenticator: (any IngressAuthenticator)? = nil) {
        self.controller = controller
        gate = IngressGate(authenticator: authenticator)
        let states = group.loops.map { _ in LoopState() }
        self.states = states
        controller.onChange { plane in
            for (loop, state) in zip(group.loops, states) {
                loop.execute { state.plane = plane }
            }
        }
    }

    /// Adds the ingress routes to `router`.
    public func install(on router: inout Router) {
        router.add(nil, "/:namespace/:broker") { [self] request, responder in
            self.handle(request, &responder)
        }
        router.add(nil, "/channels/:namespace/:channel") { [self] request, responder in
            self.handleChannel(request, &responder)
        }
        router.fallback = { [self] request, responder in
            // As Knative: a path that is not /<namespace>/<broker> is 400, and "/" is 404 unless
            // the Host names a channel.
            if request.path.count > 1 {
                responder.respond(status: .badRequest, headers: IngressAnswers.allow, text: "bad path: expected /<namespace>/<broker>\n")
            } else if !self.handleChannelHost(request, &responder) {
                responder.respond(IngressAnswers.notFoundRoot)
            }
        }
    }

    /// Answers OPTIONS and other methods than POST; true when the request is a POST to serve.
    func isPost(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) -> Bool {
        switch request.method {
        case .post:
            return true
        case .options:
            responder.respond(IngressAnswers.options)
        default:
            responder.respond(IngressAnswers.methodNotAllowed)
        }
        return false
    }

    private func handle(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) {
        guard isPost(request, &responder) else { return }
        guard let broker = states[responder.loop.index].plane.broker(path: request.path) else {
            responder.respond(status: .notFound, headers: IngressAnswers.allow,
                              text: "broker \(request.parameterString(0))/\(request.parameterString(1)) not found\n")
            return
        }
        ingest(request, into: broker, &responder)
    }

    /// Decodes the request's events (stamped for a broker) and stores them in `broker` (a
    /// broker or a channel), answering 202 once stored, or why not.
    func ingest(_ request: borrowing HTTPRequest, into broker: BrokerRuntime, _ responder: inout HTTPResponder) {
        let loop = responder.loop
        let shard = loop.index
        let state = states[shard]
        // The loop's clock, read once per iteration: free, and late by at most the work done
        // earlier in the same iteration (well inside the 5 ms first bucket).
        let started = loop.now
        if broker.isSaturated {
            broker.metrics.refusedFull.increment()
            responder.respond(IngressAnswers.full)
            Ingress.record(broker.metrics, shard: shard, started: started, event: nil, status: 503)
            return
        }
        let events: [CloudEvent]
        do {
            events = broker.kind == .broker ? try state.decoder.decode(request, keepTransportHeader: PassThroughHeaders.keeps)
                : try state.channelDecoder.decode(request, keepTransportHeader: PassThroughHeaders.keeps)
        } catch {
            broker.metrics.refusedInvalid.increment()
            let status: HTTPStatus = if case .unsupportedFormat = error { HTTPStatus(code: 415) } else { .badRequest }
            responder.respond(status: status, headers: IngressAnswers.allow, text: "\(error)\n")
            Ingress.record(broker.metrics, shard: shard, started: started, event: nil, status: status.code)
            return
        }
        let deferred = responder.deferResponse()
        // An open ingress, or a sender whose token was verified before: no closure is made.
        let authorization = gate.authenticator == nil ? nil : request.header("authorization")
        if let known = gate.checkNow(authorization: authorization, audience: broker.audience, policy: broker.senderPolicy, events: events) {
            return admit(events, into: broker, answer: known, state: state, deferred: deferred, shard: shard, started: started)
        }
        gate.checkLater(authorization: authorization.map { String(decoding: $0, as: UTF8.self) }, audience: broker.audience, policy: broker.senderPolicy, events: events,
                        loop: loop) { [self] answer in
            admit(events, into: broker, answer: answer, state: state, deferred: deferred, shard: shard, started: started)
        }
    }

    /// Stores the events when the gate let them in, or answers its refusal. On the loop.
    private func admit(_ events: [CloudEvent], into broker: BrokerRuntime, answer: IngressGate.Answer, state: LoopState, deferred: DeferredResponse,
                       shard: Int, started: UInt64) {
        switch answer {
        case .admitted:
            store(events, into: broker, state: state, deferred: deferred, shard: shard, started: started)
        case .refused(let refusal):
            deferred.complete(IngressGate.response(refusal))
            Ingress.record(broker.metrics, shard: shard, started: started, event: nil, status: refusal.status.code)
        }
    }

    /// Stores the events and answers 202 once stored, or why not. On the request's loop.
    private func store(_ events: [CloudEvent], into broker: BrokerRuntime, state: LoopState, deferred: DeferredResponse, shard: Int,
                       started: UInt64) {
        let first = events.first
        let count = events.count
        broker.store(events, scratch: &state.scratch) { [broker] error in
            broker.count(error, events: count)
            let answer = error.map(IngressAnswers.storageFailure) ?? IngressAnswers.accepted
            deferred.complete(answer)
            Ingress.record(broker.metrics, shard: shard, started: started, event: first, status: answer.status.code)
        }
    }

    /// Knative's ingress measure: how long the request took, by event type and status.
    private static func record(_ metrics: BrokerMetrics, shard: Int, started: UInt64, event: CloudEvent?, status: Int) {
        let elapsed = Int64(clamping: Monotonic.now() &- started)
        guard let event else {
            return metrics.requests.record(shard: shard, type: nil, status: status, nanoseconds: elapsed)
        }
        event.withView { metrics.requests.record(shard: shard, type: $0.value(of: AttributeName.type), status: status, nanoseconds: elapsed) }
    }
}

/// The answers of Knative's ingresses (brokers, sinks), serialised once.
public enum IngressAnswers {
    public static let allow: [(name: String, value: String)] = [("Allow", "POST, OPTIONS")]
    public static let accepted = PreparedResponse(status: .accepted, headers: allow)
    public static let options = PreparedResponse(status: .ok, headers: allow + [("WebHook-Allowed-Origin", "*"), ("WebHook-Allowed-Rate", "*")])
    public static let methodNotAllowed = PreparedResponse(status: .methodNotAllowed, headers: allow + [("Content-Type", "text/plain")],
                                                   body: Array("only POST and OPTIONS are allowed\n".utf8))
    public static let notFoundRoot = PreparedResponse(status: .notFound, headers: allow + [("Content-Type", "text/plain")],
                                               body: Array("no broker at /: POST to /<namespace>/<broker>\n".utf8))
    public static let full = full(retryAfterSeconds: 1)
    /// The answers for a full broker, by the seconds they ask producers to wait.
    private static let fullBySeconds = (0...10).map { full(retryAfterSeconds: $0) }

    public static func full(retryAfterSeconds seconds: Int) -> PreparedResponse {
        PreparedResponse(status: .serviceUnavailable, headers: allow + [("Retry-After", String(seconds)), ("Content-Type", "text/plain")],
                         body: Array("the broker is full; retry later\n".utf8))
    }

    public static func storageFailure(_ error: StorageError) -> PreparedResponse {
        switch error {
        case .full(let seconds):
            return fullBySeconds.indices.contains(seconds) ? fullBySeconds[seconds] : full(retryAfterSeconds: max(1, seconds))
        case .failed(let reason):
            return PreparedResponse(status: .serviceUnavailable, headers: allow + [("Retry-After", "1"), ("Content-Type", "text/plain")],
                                    body: Array("event not stored: \(reason)\n".utf8))
        }
    }
}
