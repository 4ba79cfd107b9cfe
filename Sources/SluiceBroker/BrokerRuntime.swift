import SluiceCloudEvents
import SluiceDelivery
import SluiceFilter
import SluiceStorage
import Synchronization

/// One broker as configured now: its trigger index and the queues of its triggers, aligned
/// with the index's trigger numbers. Immutable; a reload builds a new one that shares the
/// store and the queues of unchanged triggers.
public final class BrokerRuntime: Sendable {
    public let namespace: String
    public let name: String
    public let store: any BrokerStore
    let index: TriggerIndex
    let queues: [any TriggerQueue]
    public let metrics: BrokerMetrics

    init(namespace: String, name: String, store: any BrokerStore, index: TriggerIndex, queues: [any TriggerQueue], metrics: BrokerMetrics) {
        self.namespace = namespace
        self.name = name
        self.store = store
        self.index = index
        self.queues = queues
        self.metrics = metrics
    }

    public var key: String { "\(namespace)/\(name)" }

    /// True when every trigger's queue is at its bound: an event could only be refused, so the
    /// ingress answers 503 before spending anything on decoding it (overload stays cheap and
    /// leaves the CPU to delivery, which is what drains the backlog).
    var isSaturated: Bool {
        guard let limit = store.eventsPerTriggerLimit, !queues.isEmpty else { return false }
        for queue in queues where queue.depth < limit { return false }
        return true
    }

    /// The queues of the triggers `event` matches (each filter evaluated once).
    func matchingQueues(_ event: CloudEvent, scratch: inout [Int]) -> [any TriggerQueue] {
        scratch.removeAll(keepingCapacity: true)
        event.withView { index.match($0, into: &scratch) }
        if scratch.isEmpty { return [] }
        return scratch.map { queues[$0] }
    }

    /// Stores stamped events for the triggers they match, now (stores that complete
    /// synchronously). Returns why they were not stored, or nil.
    func storeNow(_ events: [CloudEvent], scratch: inout [Int]) -> StorageError? {
        for event in events {
            let matched = matchingQueues(event, scratch: &scratch)
            if let error = store.appendNow(event, to: matched) {
                metrics.refusedFull.add(1, ordering: .relaxed)
                return error
            }
            if matched.isEmpty { metrics.unmatched.add(1, ordering: .relaxed) }
        }
        metrics.accepted.add(events.count, ordering: .relaxed)
        return nil
    }

    /// Stores stamped events for the triggers they match; `completion` gets nil once stored.
    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void) {
        if store.completesSynchronously {
            completion(storeNow(events, scratch: &scratch))
            return
        }
        let entries = events.map { (event: $0, queues: matchingQueues($0, scratch: &scratch)) }
        let metrics = self.metrics
        let count = events.count
        store.append(entries) { error in
            if error == nil { metrics.accepted.add(count, ordering: .relaxed) } else { metrics.refusedFull.add(1, ordering: .relaxed) }
            completion(error)
        }
    }
}


/// Counters of one broker's ingress.
public final class BrokerMetrics: Sendable {
    public let accepted = Atomic<Int>(0)
    public let unmatched = Atomic<Int>(0)
    public let refusedInvalid = Atomic<Int>(0)
    public let refusedFull = Atomic<Int>(0)

    public init() {}
}

/// All brokers as configured now, by "namespace/name". Immutable snapshot.
public final class DataPlane: Sendable {
    public let brokers: [String: BrokerRuntime]
    public let dispatchers: [String: TriggerDelivery]
    /// The brokers by the bytes of "namespace/name", for lookups straight from a request path.
    private let byPath: ByteKeyTable<BrokerRuntime>

    init(brokers: [String: BrokerRuntime], dispatchers: [String: TriggerDelivery]) {
        self.brokers = brokers
        self.dispatchers = dispatchers
        var table = ByteKeyTable<BrokerRuntime>(minimumCapacity: brokers.count)
        for (key, broker) in brokers { table[Array(key.utf8)] = broker }
        byPath = table
    }

    /// The broker a request path "/namespace/name" (one trailing slash allowed) names.
    public func broker(path: UnsafeRawBufferPointer) -> BrokerRuntime? {
        guard path.count > 1, path[0] == 0x2F else { return nil }
        let end = path[path.count - 1] == 0x2F ? path.count - 1 : path.count
        return byPath[bytes: UnsafeRawBufferPointer(rebasing: path[1..<end])]
    }

    public static let empty = DataPlane(brokers: [:], dispatchers: [:])

    public func broker(namespace: String, name: String) -> BrokerRuntime? {
        brokers["\(namespace)/\(name)"]
    }
}

extension DataPlane {
    /// Events waiting or in flight across all triggers.
    public var pendingDeliveries: Int {
        dispatchers.values.reduce(0) { $0 + $1.queue.depth }
    }
}
