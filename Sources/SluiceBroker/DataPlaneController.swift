import Logging
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceStorage

/// Builds the data plane from manifests and keeps it across reloads: the backends, queues and
/// dispatchers of brokers and triggers that still exist are reused, so a reload drops no
/// queued event.
///
/// Each kind has its reconciler; `build` runs them in dependency order and `check` asks each
/// for the problems only it can find. A new kind adds its reconciler in both places; kinds
/// served by other modules plug in as a `DataPlaneComponent` (`add`).
public final class DataPlaneController: @unchecked Sendable {  // reconcilers are used only under `lock`
    public let options: DataPlaneOptions
    let group: EventLoopGroup
    let client: HTTPClient
    let logger: Logger
    private let lock = Locked(())
    private let brokers: BrokerReconciler
    private lazy var triggers = TriggerReconciler(controller: self, loops: group.loops,
                                                  deliverers: Deliverer.http(client: client, loops: group.loops), logger: logger)
    private let currentPlane = Locked(DataPlane.empty)
    /// Called with each new data plane (the ingress publishes it to every loop).
    private let listeners = Locked<[@Sendable (DataPlane) -> Void]>([])
    /// Written before the first `apply`, read after.
    private let componentList = Locked<[any DataPlaneComponent]>([])

    /// `registerClasses` adds the factories of broker classes served elsewhere than this
    /// process's stores (Kafka); other classes use the local stores.
    public init(options: DataPlaneOptions, group: EventLoopGroup, client: HTTPClient, logger: Logger = Logger(label: "sluice.broker"),
                registerClasses: (inout BrokerClasses) -> Void = { _ in }) {
        self.options = options
        self.group = group
        self.client = client
        self.logger = logger
        var classes = BrokerClasses(defaultFactory: LocalBrokerFactory(options: options, logger: logger))
        registerClasses(&classes)
        brokers = BrokerReconciler(options: options, brokerClasses: classes, shards: group.loops.count, logger: logger)
    }

    /// Which factory opens the storage of which broker class.
    public var brokerClasses: BrokerClasses { brokers.brokerClasses }

    public var current: DataPlane { currentPlane.withLock { $0 } }

    /// Adds a component, before the first `apply`.
    public func add(_ component: any DataPlaneComponent) {
        componentList.withLock { $0.append(component) }
    }

    public var components: [any DataPlaneComponent] { componentList.withLock { $0 } }

    /// Why the data plane is not ready, one line each: a component's problems and a broker's
    /// (a Kafka-class broker whose cluster does not answer). Empty when it is.
    public var readinessProblems: [String] {
        components.flatMap(\.readinessProblems) + current.brokers.values.compactMap(\.backend.readinessProblem).sorted()
    }

    /// Where deliveries to `destination` go, as triggers resolve it: a Broker or a component's
    /// sink in this process, else HTTP.
    public func resolve(_ destination: Destination, namespace: String) -> DeliveryTarget? {
        DestinationResolver.resolve(destination, namespace: namespace, controller: self)
    }

    func componentSink(for ref: KReference, namespace: String) -> (any EventSink)? {
        for component in components {
            if let sink = component.sink(for: ref, namespace: namespace) { return sink }
        }
        return nil
    }

    public func onChange(_ listener: @escaping @Sendable (DataPlane) -> Void) {
        listeners.withLock { $0.append(listener) }
        listener(current)
    }

    /// Problems that only compiling and resolving find (filters, destinations), for
    /// `sluice validate` and before every apply.
    public static func check(_ manifests: ManifestSet, options: DataPlaneOptions,
                             components: [any DataPlaneComponent.Type] = []) -> [ConfigProblem] {
        var problems = BrokerReconciler.check(manifests, options: options) + TriggerReconciler.check(manifests, options: options)
        for component in components { problems += component.check(manifests, options: options) }
        return problems.sorted(by: ConfigProblem.inFileOrder)
    }

    /// Builds and installs the data plane for `manifests`. Throws the problems found; the
    /// running data plane is then left as it was.
    public func apply(_ manifests: ManifestSet) throws(ConfigError) {
        let components = self.components
        let problems = DataPlaneController.check(manifests, options: options, components: components.map { type(of: $0) })
        if !problems.isEmpty { throw ConfigError(problems: problems) }
        let plane: DataPlane = lock.withLock { _ in
            let plane = build(manifests)
            for component in components { component.reconcile(manifests) }
            return plane
        }
        currentPlane.withLock { $0 = plane }
        for listener in listeners.withLock({ $0 }) { listener(plane) }
    }

    /// Stops every dispatcher (in-flight deliveries finish on their loops), then the
    /// components: sources stop feeding brokers, sinks flush what triggers gave them.
    public func stopDelivery() {
        lock.withLock { _ in triggers.stop() }
        for component in components { component.stop() }
    }

    /// Opens the stores of the brokers in `manifests` that have none yet (with disk storage:
    /// creates or recovers their logs). Start-up calls it first, so an unusable data directory
    /// stops the process before it listens.
    public func openStores(for manifests: ManifestSet) throws(StorageError) {
        let failure: StorageError? = lock.withLock { _ in
            do throws(StorageError) {
                try brokers.open(manifests)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Writes what the stores hold pending and closes them (at shutdown, after delivery stopped).
    public func closeStores() {
        lock.withLock { _ in brokers.close() }
    }

    /// Triggers first (filters and routes), then brokers (backends bound to those triggers),
    /// then the triggers' deliveries on the queues the brokers bound.
    private func build(_ manifests: ManifestSet) -> DataPlane {
        let plans = triggers.plan(manifests)
        let built = brokers.reconcile(manifests, triggers: plans)
        let deliveries = triggers.reconcile(plans.filter { built.runtimes[$0.key] != nil }, queues: built.queues)
        return DataPlane(hubs: built.runtimes, dispatchers: deliveries)
    }
}
