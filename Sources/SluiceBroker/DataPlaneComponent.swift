import SluiceConfig
import SluiceDelivery
import SluiceHTTP

/// Resources served beside brokers and triggers, by other modules (KafkaSource and KafkaSink
/// from the Kafka bridge): built from the manifests on every apply, checked by `validate`,
/// given their own routes, ready or not, and stopped at shutdown. The controller knows them
/// only through this protocol, so a bridge plugs in without the broker knowing its library.
public protocol DataPlaneComponent: AnyObject, Sendable {
    /// Problems only this component finds (beyond decoding), as `file:line` problems.
    static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem]
    /// Builds what `manifests` declare and stops what they no longer do. Runs under the
    /// controller's lock, after brokers and triggers.
    func reconcile(_ manifests: ManifestSet)
    /// The sink in this process a destination `ref` names, when this component serves its
    /// kind (a KafkaSink); deliveries to it need no HTTP hop.
    func sink(for ref: KReference, namespace: String) -> (any EventSink)?
    /// Adds the component's ingress routes.
    func install(on router: inout Router)
    /// Why it is not ready (a Kafka cluster unreachable), empty when it is.
    var readinessProblems: [String] { get }
    /// Called at scrape time to bring gauges up to date.
    func collectMetrics()
    /// Stops taking work in (sources stop consuming) and finishes or hands back what is in
    /// flight (commit, flush). Blocks until done or a few seconds have passed.
    func stop()
}
