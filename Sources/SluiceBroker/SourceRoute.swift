import Logging
import SluiceConfig
import SluiceDelivery
import SluiceObservability

/// The route a source's events take (KafkaSource, RabbitmqSource): its sink and delivery spec
/// resolved in this process, with the source's own defaults for what the spec leaves out, and
/// delivery metrics named after the source's kind.
public struct SourceRoute {
    /// What a source's delivery is when its manifest leaves a part out.
    public struct Defaults: Sendable {
        public var retry: Int
        public var backoffDelay: Duration
        public var timeout: Duration

        public init(retry: Int, backoffDelay: Duration, timeout: Duration) {
            self.retry = retry
            self.backoffDelay = backoffDelay
            self.timeout = timeout
        }
    }

    /// The route, or nil when the sink cannot be resolved. `kind` is the lower-case kind
    /// (`kafkasource`): log field and metric prefix `sluice_<kind minus "source">_source`.
    /// `monitor` keeps the metrics of the source this one replaces.
    public static func make(kind: String, meta: ObjectMeta, sink: Destination, delivery spec: DeliverySpec?, defaults: Defaults,
                            monitor: DeliveryMonitor?, controller: DataPlaneController, shards: Int, logger: Logger) -> DeliveryRoute? {
        let namespace = meta.namespace
        guard let subscriber = controller.resolve(sink, namespace: namespace) else { return nil }
        let deadLetter = spec?.deadLetterSink.flatMap { controller.resolve($0, namespace: namespace) }
        let policy = DeliveryPolicy(retry: spec?.retry ?? defaults.retry, backoffPolicy: spec?.backoffPolicy ?? .exponential,
                                    backoffDelay: spec?.backoffDelay ?? defaults.backoffDelay, timeout: spec?.timeout ?? defaults.timeout,
                                    retryAfterMax: spec?.retryAfterMax, deadLetter: deadLetter)
        let monitor = monitor ?? DeliveryMonitor(
            owner: DeliveryOwner(kind: kind, namespace: namespace, name: meta.name),
            metrics: DeliveryMetrics(prefix: "sluice_\(kind.dropLast("source".count))_source",
                                     labels: [(LabelNames.sourceName, meta.name), (LabelNames.sourceNamespace, namespace)],
                                     factory: controller.options.metricsFactory, options: controller.options.metrics, shards: shards),
            logger: logger)
        return DeliveryRoute(monitor: monitor, subscriber: subscriber, policy: policy, replies: nil,
                             options: DeliveryOptions(format: spec?.format ?? .binary))
    }

    /// What about a source's sink and delivery makes it a different route (for reloads).
    public static func fingerprint(sink: Destination, delivery: DeliverySpec?) -> String {
        let sinkText = "\(sink.ref.map { "\($0.kind)/\($0.namespace ?? "")/\($0.name)" } ?? "")|\(sink.uri ?? "")"
        let deliveryText = delivery.map { spec in
            "\(spec.retry ?? -1)|\(spec.backoffPolicy?.rawValue ?? "")|\(spec.backoffDelay.map { "\($0)" } ?? "")|\(spec.timeout.map { "\($0)" } ?? "")"
                + "|\(spec.retryAfterMax.map { "\($0)" } ?? "")|\(spec.format?.rawValue ?? "")"
                + "|\(spec.deadLetterSink.map { "\($0.ref?.name ?? "")|\($0.ref?.kind ?? "")|\($0.uri ?? "")" } ?? "")"
        } ?? "-"
        return sinkText + "\u{1}" + deliveryText
    }
}
