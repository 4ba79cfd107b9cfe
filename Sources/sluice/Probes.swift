import SluiceHTTP
import Synchronization

/// Readiness as /readyz reports it: true once everything listens, false again while stopping.
final class ReadinessProbe: Sendable {
    private let state = Atomic<Bool>(false)
    var isReady: Bool { state.load(ordering: .relaxed) }
    func markReady() { state.store(true, ordering: .relaxed) }
    /// Returns false when it was already not ready (a second stop signal).
    func markNotReady() -> Bool { state.exchange(false, ordering: .relaxed) }
}

enum Probes {
    static let alive = PreparedResponse(status: .ok, headers: [("Content-Type", "text/plain")], body: Array("ok\n".utf8))
    static let ready = PreparedResponse(status: .ok, headers: [("Content-Type", "text/plain")], body: Array("ready\n".utf8))
    static let notReady = PreparedResponse(status: .serviceUnavailable, headers: [("Content-Type", "text/plain")],
                                           body: Array("not ready\n".utf8))

    /// Not ready, and why (a peer such as a Kafka cluster unreachable), one reason a line.
    static func notReady(_ reasons: [String]) -> PreparedResponse {
        PreparedResponse(status: .serviceUnavailable, headers: [("Content-Type", "text/plain")],
                         body: Array(("not ready\n" + reasons.map { $0 + "\n" }.joined()).utf8))
    }
}
