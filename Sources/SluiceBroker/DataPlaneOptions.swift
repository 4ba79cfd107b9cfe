import CoreMetrics
import SluiceObservability

/// How the data plane keeps events and reaches services.
public struct DataPlaneOptions: Sendable {
    public enum Storage: Sendable {
        case memory
        case disk(directory: String)
    }

    public var storage: Storage = .memory
    public var clusterDomain = "cluster.local"
    /// Events a trigger holds in memory (waiting and in flight): on disk more wait in the log,
    /// in memory the broker answers 503.
    public var maxEventsPerTrigger = 10_000
    /// Bytes of events a broker may hold in memory.
    public var maxBrokerBytes = 256 * 1024 * 1024
    /// Bytes of log a broker may keep on disk (disk storage).
    public var maxDiskBytes = 1024 * 1024 * 1024
    /// Size at which a broker's log starts a new segment (disk storage).
    public var segmentBytes = 64 * 1024 * 1024
    /// Deliveries in flight per trigger.
    public var deliveryWindow = 100
    /// Where metric handles are made (the Prometheus exporter's factory when serving).
    public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    public var metrics = MetricsOptions()

    public init() {}
}
