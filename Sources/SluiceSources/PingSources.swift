import FoundationEssentials
import SluiceCloudEvents
import Logging
import SluiceBroker
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO

/// PingSource in the data plane: a `DataPlaneComponent` that runs a timer per source on the
/// event loops, keeps a source whose spec did not change across a reload, and carries the last
/// tick over to one that did.
public final class PingSources: DataPlaneComponent, @unchecked Sendable {  // `sources` is used under `lock`
    private unowned let controller: DataPlaneController
    private let loops: [EventLoop]
    private let deliverers: [Deliverer]
    private let clock: (@Sendable (EventLoop) -> any PingClock)
    private let logger: Logger
    private let lock = Locked(())
    private var sources: [String: PingSourceRuntime] = [:]
    /// Knative's ping adapter: 5 retries from 50 ms, exponential, then the tick is lost.
    static let defaultDelivery = SourceRoute.Defaults(retry: 5, backoffDelay: .milliseconds(50), timeout: .seconds(10))

    /// `clock` gives each loop's clock (tests pass their own).
    public init(controller: DataPlaneController, group: EventLoopGroup, client: HTTPClient,
                clock: (@Sendable (EventLoop) -> any PingClock)? = nil, logger: Logger = Logger(label: "sluice.ping")) {
        self.controller = controller
        loops = group.loops
        deliverers = Deliverer.http(client: client, loops: group.loops)
        self.clock = clock ?? { LoopClock(loop: $0) }
        self.logger = logger
    }

    public static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        manifests.pingSources.flatMap { source -> [ConfigProblem] in
            let context = "PingSource \(source.meta.namespace)/\(source.meta.name)"
            var problems: [ConfigProblem] = []
            if let zone = source.timezone, ZoneRules(named: zone) == nil {
                problems.append(ConfigProblem(location: source.timezoneLocation, message: "\(context): unknown time zone \"\(zone)\""))
            }
            do {
                _ = try CronSchedule(source.schedule, timeZone: nil)
            } catch {
                problems.append(ConfigProblem(location: source.scheduleLocation, message: "\(context): schedule \"\(source.schedule)\": \(error)"))
            }
            if let problem = DestinationResolver.problem(source.sink, namespace: source.meta.namespace, manifests: manifests, options: options) {
                problems.append(problem)
            }
            return problems
        }
    }

    public func reconcile(_ manifests: ManifestSet) {
        lock.withLock { _ in
            var live: [String: PingSourceRuntime] = [:]
            for (index, manifest) in manifests.pingSources.enumerated() {
                let key = "\(manifest.meta.namespace)/\(manifest.meta.name)"
                let fingerprint = Self.fingerprint(manifest)
                let old = sources[key]
                if let old, old.fingerprint == fingerprint {
                    live[key] = old
                    continue
                }
                // `check` parsed the schedule and resolved the sink already.
                guard let schedule = try? CronSchedule(manifest.schedule, timeZone: manifest.timezone),
                      let route = SourceRoute.make(kind: "pingsource", meta: manifest.meta, sink: manifest.sink, delivery: nil,
                                                   defaults: Self.defaultDelivery, monitor: old?.route.monitor, controller: controller,
                                                   shards: loops.count, logger: logger) else {
                    logger.error("PingSource \(key) could not be built; not started")
                    continue
                }
                old?.stop()
                let loop = loops[index % loops.count]
                let deliverer = deliverers[loop.index]
                let runtime = PingSourceRuntime(manifest: manifest, fingerprint: fingerprint, schedule: schedule, route: route,
                                                clock: clock(loop), lastTick: old?.lastTick ?? Locked(Date.distantPast), logger: logger) { stored, route, owner in
                    deliverer.deliver(stored, route: route, owner: owner)
                }
                runtime.start()
                live[key] = runtime
            }
            for (key, old) in sources where live[key] == nil {
                old.stop()
                old.route.monitor.metrics.release()
            }
            sources = live
        }
    }

    private static func fingerprint(_ source: PingSourceManifest) -> String {
        [source.schedule, source.timezone ?? "", source.contentType ?? "", source.data.map { $0.withUnsafeBytes { Base64.encode($0) } } ?? "-",
         source.ceOverrides.map { "\($0.name)=\($0.value)" }.joined(separator: ","),
         SourceRoute.fingerprint(sink: source.sink, delivery: nil)].joined(separator: "\u{1}")
    }

    // MARK: DataPlaneComponent

    public func sink(for ref: KReference, namespace: String) -> (any EventSink)? { nil }

    public func install(on router: inout Router) {}

    public var readinessProblems: [String] { [] }

    public func collectMetrics() {}

    public func stop() {
        lock.withLock { _ in
            for source in sources.values { source.stop() }
            sources = [:]
        }
    }
}
