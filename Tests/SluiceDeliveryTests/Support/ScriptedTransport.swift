import SluiceCloudEvents
import SluiceDelivery
import SluiceIO

/// A transport that answers from a script, per URL, in order, and records every request with
/// the virtual time it was sent. Answers arrive on the scheduler, as the network's would.
final class ScriptedTransport: DeliveryTransport, Sendable {
    struct Sent {
        let request: DeliveryRequest
        let at: Int64
        var url: String { request.url.description }
    }

    private let scheduler: ManualScheduler
    private let scripts: Locked<[String: [DeliveryAnswer]]>
    /// Answer for a URL whose script ran out.
    private let fallback: DeliveryAnswer
    private let sentRequests = Locked<[Sent]>([])
    /// Requests held without an answer (to watch windows fill).
    private let held = Locked<[@Sendable () -> Void]>([])
    private let holding: Bool

    init(scheduler: ManualScheduler, scripts: [String: [DeliveryAnswer]] = [:], fallback: DeliveryAnswer = .ok, holding: Bool = false) {
        self.scheduler = scheduler
        self.scripts = Locked(scripts)
        self.fallback = fallback
        self.holding = holding
    }

    func send(_ request: DeliveryRequest, completion: @escaping @Sendable (DeliveryAnswer) -> Void) {
        let url = request.url.description
        let scheduler = self.scheduler
        sentRequests.withLock { $0.append(Sent(request: request, at: scheduler.now)) }
        let answer = scripts.withLock { scripts -> DeliveryAnswer in
            guard var script = scripts[url], !script.isEmpty else { return fallback }
            let next = script.removeFirst()
            scripts[url] = script
            return next
        }
        if holding {
            held.withLock { $0.append { scheduler.perform { completion(answer) } } }
        } else {
            scheduler.perform { completion(answer) }
        }
    }

    var sent: [Sent] { sentRequests.withLock { $0 } }

    func sent(to url: String) -> [Sent] { sent.filter { $0.url == url } }

    /// Answers every held request.
    func releaseHeld() {
        for answer in held.withLock({ held in defer { held.removeAll() }; return held }) { answer() }
    }

    var heldCount: Int { held.withLock { $0.count } }
}

extension DeliveryAnswer {
    static let ok = DeliveryAnswer.response(status: 200, body: [], retryAfter: nil, reply: .none)

    static func status(_ code: Int, body: String = "", retryAfter: Duration? = nil) -> DeliveryAnswer {
        .response(status: code, body: Array(body.utf8), retryAfter: retryAfter, reply: .none)
    }
}
