import Logging
import SluiceConfig
import SluiceStorage

/// Opens the storage of brokers of one class.
public protocol BrokerBackendFactory: Sendable {
    /// Opens the storage of `broker` (or of a channel, in a broker's shape); a durable store
    /// keeps it at `storagePath` under the data directory.
    func open(_ broker: BrokerManifest, storagePath: String) throws(StorageError) -> any BrokerBackend
}

/// Which factory serves which broker class (`eventing.knative.dev/broker.class`). Brokers of a
/// class with no factory of its own use the default one, the class Sluice serves natively.
public struct BrokerClasses: Sendable {
    public var defaultFactory: any BrokerBackendFactory
    private var factories: [String: any BrokerBackendFactory] = [:]

    public init(defaultFactory: any BrokerBackendFactory) {
        self.defaultFactory = defaultFactory
    }

    public mutating func register(_ brokerClass: String, _ factory: any BrokerBackendFactory) {
        factories[brokerClass] = factory
    }

    public func factory(for broker: BrokerManifest) -> any BrokerBackendFactory {
        broker.brokerClass.flatMap { factories[$0] } ?? defaultFactory
    }

    /// What a backend was opened for: the class that serves the broker and its Kafka settings.
    /// A reload that changes it reopens the backend.
    struct Opening: Equatable {
        let servingClass: String?
        let kafka: KafkaBrokerSettings?
    }

    func opening(for broker: BrokerManifest) -> Opening {
        Opening(servingClass: broker.brokerClass.flatMap { factories[$0] == nil ? nil : $0 }, kafka: broker.kafka)
    }
}

/// The native class: events in memory or in the disk log, as `--storage` says.
struct LocalBrokerFactory: BrokerBackendFactory {
    let options: DataPlaneOptions
    let logger: Logger

    func open(_ broker: BrokerManifest, storagePath: String) throws(StorageError) -> any BrokerBackend {
        switch options.storage {
        case .memory:
            return StoreBackend(store: MemoryStore(maxEventsPerTrigger: options.maxEventsPerTrigger, maxBytes: options.maxBrokerBytes))
        case .disk(let directory):
            // Namespaces and names are RFC 1123 labels (checked at load), safe as path parts.
            var diskOptions = DiskStore.Options(directory: "\(directory)/\(storagePath)")
            diskOptions.maxEventsPerTrigger = options.maxEventsPerTrigger
            diskOptions.maxMemoryBytes = options.maxBrokerBytes
            diskOptions.maxDiskBytes = options.maxDiskBytes
            diskOptions.segmentBytes = options.segmentBytes
            return StoreBackend(store: try DiskStore(options: diskOptions, logger: logger))
        }
    }
}
