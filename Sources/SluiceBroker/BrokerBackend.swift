import SluiceCloudEvents
import SluiceFilter
import SluiceStorage

/// What the ingress sees of a broker's storage as configured now: it takes stamped events.
public protocol BrokerIntake: AnyObject, Sendable {
    /// Stores `events` for the triggers that take them; `completion` gets nil once they are
    /// stored (the producer may then be answered 2xx) or why they were not. It may run
    /// before `store` returns.
    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void)
    /// True when an event could only be refused (every trigger's queue is at its bound and
    /// such a queue refuses), so the ingress answers 503 before spending anything on decoding it.
    var isSaturated: Bool { get }
}

/// One trigger as a backend binds it: its key ("namespace/name"), its compiled filter, and
/// whether its events go out one at a time in their order (a Kafka-class trigger's
/// `kafka.eventing.knative.dev/delivery.order: ordered`; other backends keep one order anyway).
public struct TriggerBinding: Sendable {
    public let key: String
    public let filter: Filter
    public let ordered: Bool

    public init(key: String, filter: Filter, ordered: Bool = false) {
        self.key = key
        self.filter = filter
        self.ordered = ordered
    }
}

/// A broker's storage, kept across reloads while the broker exists: one per broker, made by
/// the factory of its broker class (see `BrokerClasses`).
public protocol BrokerBackend: AnyObject, Sendable {
    /// Binds the broker's triggers as configured now, in order: the intake the ingress uses,
    /// and each trigger's queue for its dispatchers. Triggers bound before and absent now are
    /// released.
    func bind(triggers: [TriggerBinding], metrics: BrokerMetrics) -> (intake: any BrokerIntake, queues: [any TriggerQueue])
    /// Counters of the store's writes (durable stores).
    var storageMetrics: StorageMetrics? { get }
    /// Writes what is pending and releases files; the backend takes no events afterwards.
    func close()
    /// Why the broker cannot take events now (its Kafka cluster unreachable); nil when it can.
    var readinessProblem: String? { get }
    /// Brings the backend's own gauges up to date (a Kafka consumer's lag), at scrape time.
    func collectMetrics()
}

extension BrokerBackend {
    public var readinessProblem: String? { nil }
    public func collectMetrics() {}
}

/// A broker whose events wait in one of this process's stores (memory or disk, both keeping
/// each trigger's events in a `RingTriggerQueue`): ingress matches each event against the
/// trigger index once and appends it to the queues of the triggers it matched.
final class StoreBackend: BrokerBackend {
    /// Concrete queue types keep the per-request path free of generic code (no metadata
    /// look-ups at run time); one existential call reaches the store.
    let store: any BrokerStore<RingTriggerQueue>

    init(store: any BrokerStore<RingTriggerQueue>) {
        self.store = store
    }

    func bind(triggers: [TriggerBinding], metrics: BrokerMetrics) -> (intake: any BrokerIntake, queues: [any TriggerQueue]) {
        let queues = triggers.map { store.queue(forTrigger: $0.key) }
        store.retainOnly(triggers: Set(triggers.map(\.key)))
        let intake = IndexedIntake(store: store, index: TriggerIndex(filters: triggers.map(\.filter)), queues: queues, metrics: metrics)
        return (intake, queues)
    }

    var storageMetrics: StorageMetrics? { store.metrics }

    func close() {
        store.close()
    }
}

/// Matching and storing for one configuration of a store-backed broker. Immutable; a reload
/// makes a new one over the same store and the queues of unchanged triggers. A class, so a
/// request retains one reference rather than each of its fields.
final class IndexedIntake: BrokerIntake {
    let store: any BrokerStore<RingTriggerQueue>
    let index: TriggerIndex
    /// Aligned with the index's trigger numbers.
    let queues: [RingTriggerQueue]
    let metrics: BrokerMetrics
    private let fullQueuesRefuse: Bool

    init(store: any BrokerStore<RingTriggerQueue>, index: TriggerIndex, queues: [RingTriggerQueue], metrics: BrokerMetrics) {
        self.store = store
        self.index = index
        self.queues = queues
        self.metrics = metrics
        fullQueuesRefuse = store.fullQueuesRefuse
    }

    var isSaturated: Bool {
        if queues.isEmpty || !fullQueuesRefuse { return false }
        for queue in queues where queue.depth < queue.capacity { return false }
        return true
    }

    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void) {
        var entries: [StoreEntry<RingTriggerQueue>] = []
        entries.reserveCapacity(events.count)
        var unmatched = 0
        for event in events {
            scratch.removeAll(keepingCapacity: true)
            event.withView { index.match($0, into: &scratch) }
            if scratch.isEmpty { unmatched += 1 }
            entries.append(StoreEntry(event: event, queues: scratch.map { queues[$0] }))
        }
        guard unmatched > 0 else {
            store.append(entries, completion: completion)
            return
        }
        let metrics = self.metrics
        store.append(entries) { [unmatched] error in
            if error == nil { metrics.unmatched.increment(by: unmatched) }
            completion(error)
        }
    }
}
