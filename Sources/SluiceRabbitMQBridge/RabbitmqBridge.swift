import Logging
import SluiceBroker
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceRabbitMQ

/// RabbitmqSource in the data plane: a `DataPlaneComponent` that builds the sources from the
/// manifests, keeps those whose settings did not change across a reload, and reports whether
/// each is connected.
public final class RabbitmqBridge: DataPlaneComponent, @unchecked Sendable {  // `sources` is used under `lock`
    private unowned let controller: DataPlaneController
    private let loops: [EventLoop]
    private let deliverers: [Deliverer]
    private let logger: Logger
    private let lock = Locked(())
    private var sources: [String: RabbitmqSourceRuntime] = [:]
    /// How long a stopping source waits for its deliveries in flight before it closes.
    private let grace: Duration = .seconds(5)
    /// Beyond the grace: closing the channel and the connection may each wait for the server's
    /// answer up to the 10 s RPC timeout.
    private let closeMargin: Duration = .seconds(15)

    public init(controller: DataPlaneController, group: EventLoopGroup, client: HTTPClient,
                logger: Logger = Logger(label: "sluice.rabbitmq")) {
        self.controller = controller
        loops = group.loops
        deliverers = Deliverer.http(client: client, loops: group.loops)
        self.logger = logger
    }

    public static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        manifests.rabbitmqSources.flatMap { source in
            [source.sink, source.delivery?.deadLetterSink].compactMap { $0 }.compactMap { destination in
                DestinationResolver.problem(destination, namespace: source.meta.namespace, manifests: manifests, options: options)
            }
        }
    }

    public func reconcile(_ manifests: ManifestSet) {
        lock.withLock { _ in
            var live: [String: RabbitmqSourceRuntime] = [:]
            for (index, manifest) in manifests.rabbitmqSources.enumerated() {
                let key = "\(manifest.meta.namespace)/\(manifest.meta.name)"
                guard let connection = manifest.connection(in: manifests) else {
                    logger.error("RabbitmqSource \(key): its connection Secret is missing or unusable; not started")
                    continue
                }
                let endpoint = AMQPConnection.Endpoint(host: connection.host, port: connection.port, virtualHost: connection.virtualHost,
                                                       user: connection.user, password: connection.password)
                let fingerprint = Self.fingerprint(manifest, endpoint)
                if let existing = sources[key], existing.fingerprint == fingerprint {
                    live[key] = existing
                    continue
                }
                let old = sources[key]
                let loop = loops[index % loops.count]
                guard let route = SourceRoute.make(kind: "rabbitmqsource", meta: manifest.meta, sink: manifest.sink, delivery: manifest.delivery,
                                                   defaults: RabbitmqSourceRuntime.defaultDelivery, monitor: old?.route.monitor,
                                                   controller: controller, shards: loops.count, logger: logger) else {
                    logger.error("RabbitmqSource \(key): its sink cannot be resolved; not started")
                    continue
                }
                let metrics = old?.metrics ?? RabbitmqSourceMetrics(namespace: manifest.meta.namespace, name: manifest.meta.name,
                                                                    queue: manifest.queueName, factory: controller.options.metricsFactory)
                // The one it replaces stops first, so with parallelism 1 the queue's order holds
                // across the reload.
                if let old { ([old] as [any StoppableSource]).stopAndWait(grace: grace, margin: closeMargin) }
                do {
                    let runtime = try RabbitmqSourceRuntime(manifest: manifest, fingerprint: fingerprint, endpoint: endpoint, route: route,
                                                            metrics: metrics, loop: loop, deliverer: deliverers[loop.index], logger: logger)
                    try runtime.start()
                    live[key] = runtime
                } catch {
                    logger.error("RabbitmqSource \(key) not started: \(error)")
                }
            }
            for (key, old) in sources where live[key] == nil {
                old.stop(grace: grace) {}
                old.metrics.release()
                old.route.monitor.metrics.release()
            }
            sources = live
        }
    }

    /// What makes a source different enough to reconnect it.
    private static func fingerprint(_ source: RabbitmqSourceManifest, _ endpoint: AMQPConnection.Endpoint) -> String {
        [endpoint.description, endpoint.password, source.exchangeName, source.queueName, String(source.parallelism), String(source.predeclared),
         SourceRoute.fingerprint(sink: source.sink, delivery: source.delivery)].joined(separator: "\u{1}")
    }

    // MARK: DataPlaneComponent

    public func sink(for ref: KReference, namespace: String) -> (any EventSink)? { nil }

    public func install(on router: inout Router) {}

    public var readinessProblems: [String] {
        lock.withLock { _ in sources.values.compactMap(\.unreachable) }.sorted()
    }

    public func collectMetrics() {}

    public func stop() {
        let stopping: [any StoppableSource] = lock.withLock { _ in
            defer { sources = [:] }
            return Array(sources.values)
        }
        stopping.stopAndWait(grace: grace, margin: closeMargin)
    }
}
