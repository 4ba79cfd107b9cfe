import Logging
import SluiceConfig
import SluiceDelivery
import SluiceFilter
import SluiceStorage

/// Brokers and channels (`Hub`): opens each one's backend through the factory of its class,
/// keeps it across reloads and closes it when the hub goes away; binds the hub's triggers or
/// subscriptions to it (the intake the ingress uses, a queue each); owns each hub's metric
/// handles. Used under the controller's lock.
final class BrokerReconciler {
    let options: DataPlaneOptions
    let brokerClasses: BrokerClasses
    private let logger: Logger
    private let shards: Int
    private var backends: [String: (backend: any BrokerBackend, opening: BrokerClasses.Opening)] = [:]
    private var metrics: [String: BrokerMetrics] = [:]

    init(options: DataPlaneOptions, brokerClasses: BrokerClasses, shards: Int, logger: Logger) {
        self.options = options
        self.brokerClasses = brokerClasses
        self.shards = shards
        self.logger = logger
    }

    /// Problems of brokers and channels that only resolving finds, and EventPolicy filters
    /// that do not compile.
    static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        let hubs: [ConfigProblem] = Hub.all(in: manifests).compactMap { hub in
            let broker = hub.manifest
            return broker.delivery?.deadLetterSink.flatMap { DestinationResolver.problem($0, namespace: broker.meta.namespace, manifests: manifests, options: options) }
        }
        let policies: [ConfigProblem] = manifests.eventPolicies.compactMap { policy in
            do throws(FilterCompiler.Problem) {
                _ = try SenderPolicy.compile(policy.filters)
                return nil
            } catch {
                return ConfigProblem(location: error.location, message: "EventPolicy \(policy.meta.namespace)/\(policy.meta.name): \(error.message)")
            }
        }
        return hubs + policies
    }

    /// Opens the backends of hubs that have none yet; the first failure stops it.
    func open(_ manifests: ManifestSet) throws(StorageError) {
        for hub in Hub.all(in: manifests) where backends[hub.key] == nil {
            let backend = try brokerClasses.factory(for: hub.manifest).open(hub.manifest, storagePath: hub.storagePath)
            backends[hub.key] = (backend, brokerClasses.opening(for: hub.manifest))
        }
    }

    /// What a reconcile built: each served hub, and each hub's queues, aligned with the
    /// triggers or subscriptions it was given (by hub key).
    struct Built {
        var runtimes: [String: BrokerRuntime] = [:]
        var queues: [String: [any TriggerQueue]] = [:]
    }

    /// Builds every hub of `manifests` over its backend, bound to `triggers` (by hub key);
    /// closes the backends and releases the metrics of hubs that are gone.
    func reconcile(_ manifests: ManifestSet, triggers: [String: [TriggerPlan]]) -> Built {
        var built = Built()
        for hub in Hub.all(in: manifests) {
            let key = hub.key
            let broker = hub.manifest
            let backend: any BrokerBackend
            let opening = brokerClasses.opening(for: broker)
            if let existing = backends[key], existing.opening != opening {
                // Its class or Kafka settings changed: the old backend goes (a local store
                // releases its files first), the new one opens below.
                logger.info("\(hub.kind) \(broker.key): its class or Kafka settings changed; reopening its store")
                existing.backend.close()
                backends[key] = nil
            }
            if let existing = backends[key] {
                backend = existing.backend
            } else {
                do throws(StorageError) {
                    backend = try brokerClasses.factory(for: broker).open(broker, storagePath: hub.storagePath)
                } catch {
                    logger.error("\(hub.kind) \(broker.key) has no store and is not served: \(error)")
                    continue
                }
                backends[key] = (backend, opening)
            }
            let brokerMetrics = metrics[key] ?? BrokerMetrics(kind: hub.kind, namespace: broker.meta.namespace, name: broker.meta.name,
                                                              durable: backend.storageMetrics != nil, factory: options.metricsFactory,
                                                              options: options.metrics, shards: shards)
            metrics[key] = brokerMetrics
            let plans = triggers[key] ?? []
            let (intake, queues) = backend.bind(triggers: plans.map { TriggerBinding(key: $0.key, filter: $0.filter, ordered: $0.ordered) },
                                                metrics: brokerMetrics)
            built.queues[key] = queues
            built.runtimes[key] = BrokerRuntime(kind: hub.kind, namespace: broker.meta.namespace, name: broker.meta.name, audience: hub.audience,
                                                senderPolicy: SenderPolicy(group: hub.group, kind: hub.resourceKind, meta: broker.meta, manifests: manifests),
                                                backend: backend,
                                                intake: intake, metrics: brokerMetrics)
        }
        for (key, gone) in backends where built.runtimes[key] == nil {
            gone.backend.close()
            backends[key] = nil
        }
        for (key, gone) in metrics where built.runtimes[key] == nil {
            gone.release()
            metrics[key] = nil
        }
        return built
    }

    /// Writes what the backends hold pending and closes them (shutdown).
    func close() {
        for opened in backends.values { opened.backend.close() }
    }
}

extension BrokerManifest {
    /// "namespace/name", the key brokers are kept by.
    var key: String { "\(meta.namespace)/\(meta.name)" }
}
