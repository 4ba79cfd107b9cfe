import SluiceDelivery
import SluiceFilter

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

    /// Brings the figures read at scrape time up to date: queue depths and the stores' counters.
    public func collectMetrics() {
        for delivery in dispatchers.values { delivery.monitor.metrics.queueDepth.record(delivery.queue.depth) }
        for broker in brokers.values { broker.metrics.collect(broker.backend.storageMetrics) }
    }
}
