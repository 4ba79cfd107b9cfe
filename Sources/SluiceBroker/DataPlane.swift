import SluiceDelivery
import SluiceFilter

/// All brokers and channels as configured now, each by "namespace/name". Immutable snapshot.
public final class DataPlane: Sendable {
    public let brokers: [String: BrokerRuntime]
    public let channels: [String: BrokerRuntime]
    /// Deliveries of triggers ("namespace/name") and subscriptions ("subscription:namespace/name").
    public let dispatchers: [String: QueueDelivery]
    /// The brokers and the channels by the bytes of "namespace/name", for lookups straight from
    /// a request path.
    private let brokersByPath: ByteKeyTable<BrokerRuntime>
    private let channelsByPath: ByteKeyTable<BrokerRuntime>

    /// `hubs` holds brokers and channels (by `BrokerRuntime.key`).
    init(hubs: [String: BrokerRuntime], dispatchers: [String: QueueDelivery]) {
        var brokers: [String: BrokerRuntime] = [:]
        var channels: [String: BrokerRuntime] = [:]
        for hub in hubs.values {
            if hub.kind == .broker { brokers["\(hub.namespace)/\(hub.name)"] = hub } else { channels["\(hub.namespace)/\(hub.name)"] = hub }
        }
        self.brokers = brokers
        self.channels = channels
        self.dispatchers = dispatchers
        brokersByPath = DataPlane.table(brokers)
        channelsByPath = DataPlane.table(channels)
    }

    private static func table(_ hubs: [String: BrokerRuntime]) -> ByteKeyTable<BrokerRuntime> {
        var table = ByteKeyTable<BrokerRuntime>(minimumCapacity: hubs.count)
        for (key, hub) in hubs { table[Array(key.utf8)] = hub }
        return table
    }

    /// The broker a request path "/namespace/name" (one trailing slash allowed) names.
    public func broker(path: UnsafeRawBufferPointer) -> BrokerRuntime? {
        DataPlane.lookup(path, in: brokersByPath)
    }

    /// The channel a request path "/channels/namespace/name" (one trailing slash allowed) names.
    public func channel(path: UnsafeRawBufferPointer) -> BrokerRuntime? {
        let prefix = 9  // "/channels"
        guard path.count > prefix else { return nil }
        return DataPlane.lookup(UnsafeRawBufferPointer(rebasing: path[prefix...]), in: channelsByPath)
    }

    private static func lookup(_ path: UnsafeRawBufferPointer, in table: ByteKeyTable<BrokerRuntime>) -> BrokerRuntime? {
        guard path.count > 1, path[0] == 0x2F else { return nil }
        let end = path[path.count - 1] == 0x2F ? path.count - 1 : path.count
        return table[bytes: UnsafeRawBufferPointer(rebasing: path[1..<end])]
    }

    public static let empty = DataPlane(hubs: [:], dispatchers: [:])

    public func broker(namespace: String, name: String) -> BrokerRuntime? {
        brokers["\(namespace)/\(name)"]
    }

    public func channel(namespace: String, name: String) -> BrokerRuntime? {
        channels["\(namespace)/\(name)"]
    }
}

extension DataPlane {
    /// Events waiting or in flight that only this process will deliver (not those a Kafka
    /// topic keeps for the other members of the trigger's group).
    public var pendingDeliveries: Int {
        dispatchers.values.reduce(0) { $0 + ($1.queue.isReplicatedElsewhere ? 0 : $1.queue.depth) }
    }

    /// Brings the figures read at scrape time up to date: queue depths and the stores' counters.
    public func collectMetrics() {
        for delivery in dispatchers.values { delivery.monitor.metrics.queueDepth.record(delivery.queue.depth) }
        for hub in [brokers.values, channels.values].joined() {
            hub.metrics.collect(hub.backend.storageMetrics)
            hub.backend.collectMetrics()
        }
    }
}
