import SluiceCloudEvents
import SluiceDelivery
import SluiceFilter
import SluiceStorage
import Synchronization

/// One broker as configured now: where its events go (its intake) and its counters.
/// Immutable; a reload builds a new one over the same backend.
public final class BrokerRuntime: Sendable {
    public let namespace: String
    public let name: String
    public let backend: any BrokerBackend
    let intake: any BrokerIntake
    public let metrics: BrokerMetrics

    init(namespace: String, name: String, backend: any BrokerBackend, intake: any BrokerIntake, metrics: BrokerMetrics) {
        self.namespace = namespace
        self.name = name
        self.backend = backend
        self.intake = intake
        self.metrics = metrics
    }

    public var key: String { "\(namespace)/\(name)" }

    /// See `BrokerIntake.isSaturated`.
    var isSaturated: Bool { intake.isSaturated }

    /// Stores stamped events for the triggers they match; `completion` gets nil once stored.
    func store(_ events: [CloudEvent], scratch: inout [Int], completion: @escaping @Sendable (StorageError?) -> Void) {
        let metrics = self.metrics
        let count = events.count
        intake.store(events, scratch: &scratch) { error in
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
    public let dispatchers: [String: QueueDelivery]
    /// The brokers by the bytes of "namespace/name", for lookups straight from a request path.
    private let byPath: ByteKeyTable<BrokerRuntime>

    init(brokers: [String: BrokerRuntime], dispatchers: [String: QueueDelivery]) {
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
