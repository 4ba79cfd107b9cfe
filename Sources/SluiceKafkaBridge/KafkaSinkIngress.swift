import SluiceBroker
import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceDelivery
import SluiceHTTP
import SluiceIO

/// KafkaSink ingress: `POST /sinks/<namespace>/<name>` with a CloudEvent (binary, structured or
/// batched), answered as Knative's Kafka receiver answers: 202 only once Kafka acknowledged
/// the record (`acks=all`), 400 for an invalid event, 404 for an unknown sink, 503 with
/// `Retry-After` when Kafka is unreachable or the producer's queue is full.
final class KafkaSinkIngress: Sendable {
    private let states: [LoopState]
    /// Who may post (`--oidc`): the sink's audience is `eventing.knative.dev/kafkasink/<ns>/<name>`.
    private let gate: IngressGate

    /// A sink as the ingress serves it: its producers, and what senders may post to it.
    struct Served: Sendable {
        let runtime: KafkaSinkRuntime
        let audience: String
        let policy: SenderPolicy
    }

    /// What each loop keeps: its decoder and its own copy of the sinks (published through
    /// `loop.execute`, so a request takes no lock).
    final class LoopState: @unchecked Sendable {
        var decoder = HTTPEventDecoder()
        var sinks: [String: Served] = [:]
    }

    static let unreachable = PreparedResponse(status: .serviceUnavailable,
                                              headers: IngressAnswers.allow + [("Retry-After", "1"), ("Content-Type", "text/plain")],
                                              body: Array("Kafka is unreachable; retry later\n".utf8))

    init(loops: [EventLoop], authenticator: (any IngressAuthenticator)?) {
        states = loops.map { _ in LoopState() }
        gate = IngressGate(authenticator: authenticator)
    }

    /// Makes `sinks` the ones every loop serves.
    func publish(_ sinks: [String: Served], loops: [EventLoop]) {
        for (loop, state) in zip(loops, states) {
            loop.execute { state.sinks = sinks }
        }
    }

    func install(on router: inout Router) {
        router.add(nil, "/sinks/:namespace/:name") { [self] request, responder in
            self.handle(request, &responder)
        }
    }

    private func handle(_ request: borrowing HTTPRequest, _ responder: inout HTTPResponder) {
        switch request.method {
        case .post:
            break
        case .options:
            return responder.respond(IngressAnswers.options)
        default:
            return responder.respond(IngressAnswers.methodNotAllowed)
        }
        let shard = responder.loop.index
        let state = states[shard]
        let key = "\(request.parameterString(0))/\(request.parameterString(1))"
        guard let served = state.sinks[key] else {
            return responder.respond(status: .notFound, headers: IngressAnswers.allow, text: "KafkaSink \(key) not found\n")
        }
        let sink = served.runtime
        let events: [CloudEvent]
        do {
            events = try state.decoder.decode(request, keepTransportHeader: { _ in false })
        } catch {
            sink.metrics.refusedInvalid.increment()
            let status: HTTPStatus = if case .unsupportedFormat = error { HTTPStatus(code: 415) } else { .badRequest }
            return responder.respond(status: status, headers: IngressAnswers.allow, text: "\(error)\n")
        }
        if events.isEmpty { return responder.respond(IngressAnswers.accepted) }
        let deferred = responder.deferResponse()
        let authorization = gate.authenticator == nil ? nil : request.header("authorization")
        if let known = gate.checkNow(authorization: authorization, audience: served.audience, policy: served.policy, events: events) {
            return KafkaSinkIngress.admit(events, to: sink, answer: known, shard: shard, deferred: deferred)
        }
        gate.checkLater(authorization: authorization.map { String(decoding: $0, as: UTF8.self) }, audience: served.audience, policy: served.policy, events: events,
                        loop: responder.loop) { answer in
            KafkaSinkIngress.admit(events, to: sink, answer: answer, shard: shard, deferred: deferred)
        }
    }

    private static func admit(_ events: [CloudEvent], to sink: KafkaSinkRuntime, answer: IngressGate.Answer, shard: Int, deferred: DeferredResponse) {
        switch answer {
        case .admitted: produce(events, to: sink, shard: shard, deferred: deferred)
        case .refused(let refusal): deferred.complete(IngressGate.response(refusal))
        }
    }

    /// Answers 202 once Kafka acknowledged every record, or 503 with why not.
    private static func produce(_ events: [CloudEvent], to sink: KafkaSinkRuntime, shard: Int, deferred: DeferredResponse) {
        sink.produce(events, shard: shard) { error in
            guard let error else { return deferred.complete(IngressAnswers.accepted) }
            deferred.complete(error.isRetriable ? KafkaSinkIngress.unreachable
                : PreparedResponse(status: .serviceUnavailable, headers: IngressAnswers.allow + [("Retry-After", "1"), ("Content-Type", "text/plain")],
                                   body: Array("Kafka did not take the event: \(error)\n".utf8)))
        }
    }
}
