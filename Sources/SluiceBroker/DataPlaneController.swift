import CoreMetrics
import Logging
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceFilter
import SluiceHTTP
import SluiceIO
import SluiceObservability
import SluiceStorage

/// How the data plane keeps events and reaches services.
public struct DataPlaneOptions: Sendable {
    public enum Storage: Sendable {
        case memory
        case disk(directory: String)
    }

    public var storage: Storage = .memory
    public var clusterDomain = "cluster.local"
    /// Events a trigger may hold (waiting and in flight) before its broker answers 503.
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

/// Builds the data plane from manifests and keeps it across reloads: stores and dispatchers
/// of brokers and triggers that still exist are reused, so a reload drops no queued event.
public final class DataPlaneController: @unchecked Sendable {  // mutated only under `lock`
    public let options: DataPlaneOptions
    let group: EventLoopGroup
    let client: HTTPClient
    let logger: Logger
    /// One deliverer per loop, shared by every trigger's dispatcher on that loop.
    let deliverers: [Deliverer]
    private let lock = Locked(())
    private var backends: [String: any BrokerBackend] = [:]
    /// Which factory opens the storage of which broker class.
    public let brokerClasses: BrokerClasses
    private var dispatchers: [String: QueueDelivery] = [:]
    private let currentPlane = Locked(DataPlane.empty)
    /// Called with each new data plane (the ingress publishes it to every loop).
    private let listeners = Locked<[@Sendable (DataPlane) -> Void]>([])

    public init(options: DataPlaneOptions, group: EventLoopGroup, client: HTTPClient, logger: Logger = Logger(label: "sluice.broker")) {
        self.options = options
        brokerClasses = BrokerClasses(defaultFactory: LocalBrokerFactory(options: options, logger: logger))
        self.group = group
        self.client = client
        self.logger = logger
        deliverers = Deliverers.http(client: client, loops: group.loops)
    }

    public var current: DataPlane { currentPlane.withLock { $0 } }

    public func onChange(_ listener: @escaping @Sendable (DataPlane) -> Void) {
        listeners.withLock { $0.append(listener) }
        listener(current)
    }

    /// Problems that only compiling finds (filters, destinations), for `sluice validate`.
    public static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        for trigger in manifests.triggers {
            do {
                _ = try FilterCompiler.compile(trigger)
            } catch {
                problems.append(ConfigProblem(location: error.location, message: "Trigger \(trigger.meta.namespace)/\(trigger.meta.name) filters: \(error.message)"))
            }
            for destination in [trigger.subscriber, trigger.delivery?.deadLetterSink].compactMap({ $0 }) {
                if let problem = DestinationResolver.problem(destination, namespace: trigger.meta.namespace, options: options) {
                    problems.append(problem)
                }
            }
        }
        for broker in manifests.brokers {
            if let sink = broker.delivery?.deadLetterSink,
               let problem = DestinationResolver.problem(sink, namespace: broker.meta.namespace, options: options) {
                problems.append(problem)
            }
        }
        return problems.sorted { ($0.location.file, $0.location.line) < ($1.location.file, $1.location.line) }
    }

    /// Builds and installs the data plane for `manifests`. Throws the problems found; the
    /// running data plane is then left as it was.
    public func apply(_ manifests: ManifestSet) throws(ConfigError) {
        let problems = DataPlaneController.check(manifests, options: options)
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        let plane: DataPlane = lock.withLock { _ in build(manifests) }
        currentPlane.withLock { $0 = plane }
        for listener in listeners.withLock({ $0 }) { listener(plane) }
    }

    /// Stops every dispatcher (in-flight deliveries finish on their loops).
    public func stopDelivery() {
        lock.withLock { _ in
            for dispatcher in dispatchers.values { dispatcher.stop() }
        }
    }

    /// Opens the stores of the brokers in `manifests` that have none yet (with disk storage:
    /// creates or recovers their logs). Start-up calls it first, so an unusable data directory
    /// stops the process before it listens.
    public func openStores(for manifests: ManifestSet) throws(StorageError) {
        let failure: StorageError? = lock.withLock { _ in
            for broker in manifests.brokers {
                let key = "\(broker.meta.namespace)/\(broker.meta.name)"
                guard backends[key] == nil else { continue }
                do throws(StorageError) {
                    backends[key] = try brokerClasses.factory(for: broker).open(broker)
                } catch {
                    return error
                }
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Writes what the stores hold pending and closes them (at shutdown, after delivery stopped).
    public func closeStores() {
        lock.withLock { _ in
            for backend in backends.values { backend.close() }
        }
    }

    // MARK: Building

    private func build(_ manifests: ManifestSet) -> DataPlane {
        var brokers: [String: BrokerRuntime] = [:]
        var liveDispatchers: [String: QueueDelivery] = [:]
        for broker in manifests.brokers {
            let key = "\(broker.meta.namespace)/\(broker.meta.name)"
            let backend: any BrokerBackend
            if let existing = backends[key] {
                backend = existing
            } else {
                do throws(StorageError) {
                    backend = try brokerClasses.factory(for: broker).open(broker)
                } catch {
                    logger.error("broker \(key) has no store and is not served: \(error)")
                    continue
                }
                backends[key] = backend
            }
            let triggers = manifests.triggers
                .filter { $0.meta.namespace == broker.meta.namespace && $0.broker == broker.meta.name }
                .sorted { $0.meta.name < $1.meta.name }
            var bound: [(key: String, filter: Filter)] = []
            var routes: [DeliveryRoute] = []
            for trigger in triggers {
                let triggerKey = "\(trigger.meta.namespace)/\(trigger.meta.name)"
                // `check` compiled every filter and resolved every destination already.
                guard let filter = try? FilterCompiler.compile(trigger),
                      let route = makeRoute(trigger, broker: broker, defaults: manifests.brokerDefaults) else {
                    logger.error("trigger \(triggerKey) could not be built; skipped")
                    continue
                }
                bound.append((triggerKey, filter))
                routes.append(route)
            }
            let metrics = currentPlane.withLock { $0.brokers[key]?.metrics }
                ?? BrokerMetrics(namespace: broker.meta.namespace, name: broker.meta.name, durable: backend.storageMetrics != nil,
                                 factory: options.metricsFactory,
                                 options: options.metrics, shards: group.loops.count)
            let (intake, queues) = backend.bind(triggers: bound, metrics: metrics)
            for ((triggerKey, _), (route, queue)) in zip(bound, zip(routes, queues)) {
                if let existing = dispatchers[triggerKey], existing.queue === queue {
                    existing.update(route)
                    liveDispatchers[triggerKey] = existing
                } else {
                    let delivery = QueueDelivery(route: route, queue: queue, deliverers: deliverers, loops: group.loops,
                                                 window: options.deliveryWindow)
                    delivery.start()
                    liveDispatchers[triggerKey] = delivery
                }
            }
            brokers[key] = BrokerRuntime(namespace: broker.meta.namespace, name: broker.meta.name, backend: backend,
                                         intake: intake, metrics: metrics)
        }
        for (key, dispatcher) in dispatchers where liveDispatchers[key] == nil {
            dispatcher.stop()
            dispatcher.monitor.metrics.release()
        }
        for (key, backend) in backends where brokers[key] == nil {
            backend.close()
            backends[key] = nil
        }
        for (key, broker) in currentPlane.withLock({ $0.brokers }) where brokers[key] == nil { broker.metrics.release() }
        dispatchers = liveDispatchers
        return DataPlane(brokers: brokers, dispatchers: liveDispatchers)
    }

    /// A trigger's delivery: its own spec, else its broker's, else `config-br-defaults`.
    private func makeRoute(_ trigger: TriggerManifest, broker: BrokerManifest, defaults: BrokerDefaults) -> DeliveryRoute? {
        let namespace = trigger.meta.namespace
        let spec = trigger.delivery ?? broker.delivery ?? defaults.delivery(forNamespace: namespace)
        // Knative: the trigger's dead-letter sink falls back to the broker's.
        let deadLetterDestination = spec?.deadLetterSink ?? broker.delivery?.deadLetterSink
        let deadLetterNamespace = spec?.deadLetterSink != nil ? namespace : broker.meta.namespace
        let deadLetter = deadLetterDestination.flatMap { DestinationResolver.resolve($0, namespace: deadLetterNamespace, controller: self) }
        guard let subscriber = DestinationResolver.resolve(trigger.subscriber, namespace: namespace, controller: self) else { return nil }
        let key = "\(namespace)/\(trigger.meta.name)"
        let monitor = dispatchers[key]?.monitor ?? makeMonitor(trigger, broker: broker)
        return DeliveryRoute(monitor: monitor, subscriber: subscriber, policy: DeliveryPolicy(spec, deadLetter: deadLetter),
                             replies: .local(BrokerSink(namespace: broker.meta.namespace, name: broker.meta.name, controller: self)),
                             options: .broker(namespace: namespace, format: spec?.format ?? .binary))
    }

    /// A trigger's counters, timers and log lines, labelled as Knative labels them.
    private func makeMonitor(_ trigger: TriggerManifest, broker: BrokerManifest) -> DeliveryMonitor {
        let labels = [(LabelNames.brokerName, broker.meta.name), (LabelNames.brokerNamespace, broker.meta.namespace),
                      (LabelNames.triggerName, trigger.meta.name)]
        let metrics = DeliveryMetrics(prefix: "sluice_trigger", labels: labels, factory: options.metricsFactory,
                                      options: options.metrics, shards: group.loops.count)
        return DeliveryMonitor(owner: DeliveryOwner(kind: "trigger", namespace: trigger.meta.namespace, name: trigger.meta.name),
                               metrics: metrics, logger: logger)
    }
}
