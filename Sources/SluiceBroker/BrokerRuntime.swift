import SluiceCloudEvents
import SluiceDelivery
import SluiceFilter
import SluiceStorage

/// One broker or channel as configured now: where its events go (its intake) and its
/// counters. Immutable; a reload builds a new one over the same backend.
public final class BrokerRuntime: Sendable {
    public let kind: HubKind
    public let namespace: String
    public let name: String
    /// Its OIDC audience (`eventing.knative.dev/broker/<ns>/<name>`, ...).
    public let audience: String
    /// What authenticated senders may post to it (`--oidc`).
    public let senderPolicy: SenderPolicy
    public let backend: any BrokerBackend
    let intake: any BrokerIntake
    public let metrics: BrokerMetrics

    init(kind: HubKind, namespace: String, name: String, audience: String, senderPolicy: SenderPolicy, backend: any BrokerBackend,
         intake: any BrokerIntake, metrics: BrokerMetrics) {
        self.senderPolicy = senderPolicy
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.audience = audience
        self.backend = backend
        self.intake = intake
        self.metrics = metrics
    }

    public var key: String { Hub.key(kind, namespace: namespace, name: name) }

    /// See `BrokerIntake.isSaturated`.
    var isSaturated: Bool { intake.isSaturated }

    /// Stores stamped events for the triggers they match; `completion` gets nil once stored.
    /// The caller counts the outcome (`count`): its own completion is the one closure a
    /// request needs.
    @inline(__always)
    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void) {
        intake.store(events, scratch: &scratch, completion: completion)
    }

    /// Counts what storing `count` events ended in.
    @inline(__always)
    func count(_ error: StorageError?, events count: Int) {
        if error == nil { metrics.accepted.increment(by: count) } else { metrics.refusedFull.increment() }
    }
}
