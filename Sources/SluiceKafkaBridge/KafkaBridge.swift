import Dispatch
import Logging
import SluiceBroker
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceKafka

/// KafkaSource and KafkaSink in the data plane: a `DataPlaneComponent` that builds them from
/// the manifests, keeps those whose settings did not change across a reload, serves the sink
/// ingress and the KafkaSink destinations of triggers and sources, and reports their health.
public final class KafkaBridge: DataPlaneComponent, @unchecked Sendable {  // `sources` and `sinks` are used under `lock`
    private unowned let controller: DataPlaneController
    private let loops: [EventLoop]
    private let trust: KafkaTrust
    private let deliverers: [Deliverer]
    private let logger: Logger
    private let ingress: KafkaSinkIngress
    private let lock = Locked(())
    private var sources: [String: KafkaSourceRuntime] = [:]
    private let sinks = Locked<[String: KafkaSinkRuntime]>([:])
    /// How long a source waits for deliveries in flight, and a sink for acknowledgements, at
    /// shutdown or when a reload replaces it.
    private let grace: Duration = .seconds(5)

    /// `trust`: what clients over TLS trust beyond their Secrets (`--trust-bundle-dir`).
    /// `authenticator`: who may post to KafkaSinks (`--oidc`); nil: anyone who reaches the port.
    public init(controller: DataPlaneController, group: EventLoopGroup, client: HTTPClient, trust: KafkaTrust = KafkaTrust(),
                authenticator: (any IngressAuthenticator)? = nil, logger: Logger = Logger(label: "sluice.kafka")) {
        self.controller = controller
        loops = group.loops
        self.trust = trust
        deliverers = Deliverer.http(client: client, loops: group.loops)
        self.logger = logger
        ingress = KafkaSinkIngress(loops: group.loops, authenticator: authenticator)
    }

    public static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        for source in manifests.kafkaSources {
            for destination in [source.sink, source.delivery?.deadLetterSink].compactMap({ $0 }) {
                if let problem = DestinationResolver.problem(destination, namespace: source.meta.namespace, manifests: manifests, options: options) {
                    problems.append(problem)
                }
            }
        }
        return problems
    }

    // MARK: Reconcile

    public func reconcile(_ manifests: ManifestSet) {
        lock.withLock { _ in
            reconcileSinks(manifests)
            reconcileSources(manifests)
        }
    }

    private func reconcileSinks(_ manifests: ManifestSet) {
        var live: [String: KafkaSinkRuntime] = [:]
        let current = sinks.withLock { $0 }
        for manifest in manifests.kafkaSinks {
            let key = "\(manifest.meta.namespace)/\(manifest.meta.name)"
            let settings = KafkaClientSettings.producer(manifest, manifests: manifests, trust: trust)
            let fingerprint = "\(manifest.topic)|\(manifest.contentMode)|\(settings.properties.entries.map { "\($0.key)=\($0.value)" })"
            if let existing = current[key], existing.fingerprint == fingerprint {
                live[key] = existing
                continue
            }
            if !settings.ignored.isEmpty { logger.warning("KafkaSink \(key): producer properties librdkafka does not take are ignored: \(settings.ignored.joined(separator: ", "))") }
            do {
                let metrics = current[key]?.metrics ?? KafkaSinkMetrics(namespace: manifest.meta.namespace, name: manifest.meta.name,
                                                                        factory: controller.options.metricsFactory)
                live[key] = try KafkaSinkRuntime(manifest: manifest, fingerprint: fingerprint, properties: settings.properties, loops: loops,
                                                 metrics: metrics, logger: logger)
            } catch {
                logger.error("KafkaSink \(key) not started: \(error)")
            }
        }
        sinks.withLock { $0 = live }
        // Policies follow every reload, even for a sink whose producers were kept.
        ingress.publish(live.mapValues { runtime in
            let meta = runtime.manifest.meta
            return KafkaSinkIngress.Served(runtime: runtime, audience: "eventing.knative.dev/kafkasink/\(meta.namespace)/\(meta.name)",
                                           policy: SenderPolicy(group: "eventing.knative.dev", kind: "KafkaSink", meta: meta, manifests: manifests))
        }, loops: loops)
        for (key, old) in current where live[key] !== old {
            if live[key] == nil { old.metrics.release() }
            old.close(timeout: grace) {}
        }
    }

    private func reconcileSources(_ manifests: ManifestSet) {
        var live: [String: KafkaSourceRuntime] = [:]
        for manifest in manifests.kafkaSources {
            let key = "\(manifest.meta.namespace)/\(manifest.meta.name)"
            let settings = KafkaClientSettings.consumer(manifest, manifests: manifests, trust: trust)
            let fingerprint = KafkaBridge.fingerprint(manifest, settings.properties)
            if let existing = sources[key], existing.fingerprint == fingerprint {
                live[key] = existing
                continue
            }
            if !settings.ignored.isEmpty { logger.warning("KafkaSource \(key): consumer properties librdkafka does not take are ignored: \(settings.ignored.joined(separator: ", "))") }
            guard let route = makeRoute(manifest, monitor: sources[key]?.route.monitor) else {
                logger.error("KafkaSource \(key): its sink cannot be resolved; not started")
                continue
            }
            let metrics = sources[key]?.metrics ?? KafkaSourceMetrics(namespace: manifest.meta.namespace, name: manifest.meta.name,
                                                                      group: manifest.consumerGroup, factory: controller.options.metricsFactory)
            let runtime = KafkaSourceRuntime(manifest: manifest, fingerprint: fingerprint, route: route, metrics: metrics, logger: logger)
            // The one it replaces leaves the group first, so its deliveries in flight finish
            // and their offsets are committed before the new consumers take the partitions.
            if let old = sources[key] {
                ([old] as [any StoppableSource]).stopAndWait(grace: grace)
            }
            runtime.start(properties: settings.properties, loops: loops, deliverers: deliverers, ordered: manifest.ordering == .ordered)
            live[key] = runtime
        }
        for (key, old) in sources where live[key] == nil {
            old.stop(grace: grace) {}
            old.metrics.release()
            old.route.monitor.metrics.release()
        }
        sources = live
    }

    private func makeRoute(_ manifest: KafkaSourceManifest, monitor: DeliveryMonitor?) -> DeliveryRoute? {
        SourceRoute.make(kind: "kafkasource", meta: manifest.meta, sink: manifest.sink, delivery: manifest.delivery,
                         defaults: KafkaSourceRuntime.defaultDelivery, monitor: monitor, controller: controller, shards: loops.count, logger: logger)
    }

    /// What makes a source different enough to restart its consumers (not where it is written).
    private static func fingerprint(_ source: KafkaSourceManifest, _ properties: KafkaProperties) -> String {
        [source.topics.joined(separator: ","), String(source.consumers), source.ordering.rawValue, source.keyType,
         SourceRoute.fingerprint(sink: source.sink, delivery: source.delivery),
         source.ceOverrides.map { "\($0.name)=\($0.value)" }.joined(separator: ","),
         properties.entries.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")].joined(separator: "\u{1}")
    }

    // MARK: DataPlaneComponent

    public func sink(for ref: KReference, namespace: String) -> (any EventSink)? {
        guard ref.kind == "KafkaSink", ref.apiVersion == nil || ref.apiVersion?.hasPrefix("eventing.knative.dev/") == true else { return nil }
        return KafkaSinkReference(key: "\(ref.namespace ?? namespace)/\(ref.name)", sinks: sinks)
    }

    public func install(on router: inout Router) {
        ingress.install(on: &router)
    }

    public var readinessProblems: [String] {
        let sinkProblems = sinks.withLock { $0 }.values.compactMap(\.unreachable)
        let sourceProblems = lock.withLock { _ in sources.values.compactMap(\.unreachable) }
        return (sinkProblems + sourceProblems).sorted()
    }

    public func collectMetrics() {
        lock.withLock { _ in for source in sources.values { source.collectMetrics() } }
    }

    public func stop() {
        let stopping: [any StoppableSource] = lock.withLock { _ in
            defer { sources = [:] }
            return Array(sources.values)
        }
        stopping.stopAndWait(grace: grace)
        let finished = DispatchGroup()
        let closing = sinks.withLock { sinks in defer { sinks.removeAll() }; return Array(sinks.values) }
        for sink in closing {
            finished.enter()
            sink.close(timeout: grace) { finished.leave() }
        }
        _ = finished.wait(timeout: .now() + .seconds(Int(grace.components.seconds) + 5))
    }
}

/// A KafkaSink named by a destination ref, looked up when events arrive, so the ref stays
/// good while a reload replaces the sink (or makes it exist).
struct KafkaSinkReference: EventSink {
    let key: String
    let sinks: Locked<[String: KafkaSinkRuntime]>

    var address: String { "kafkasink:\(key)" }

    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void) {
        guard let sink = sinks.withLock({ $0[key] }) else {
            return completion(SinkRejection(status: 404, reason: "KafkaSink \(key) not found", retryable: true))
        }
        sink.accept(events, completion: completion)
    }
}
