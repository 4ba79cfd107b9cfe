import CoreMetrics
import Logging
import SluiceCloudEvents
import SluiceObservability
import Synchronization

/// What one delivering resource (a trigger, a subscription, a source) reports about its
/// deliveries: counters for the metrics, and the log lines a user follows. Shared by that
/// resource's dispatchers on every loop and kept across reloads.
///
/// Lines that can repeat per event are rate-limited: an event dead-lettered, an event dropped
/// (no dead-letter sink, or the sink failed too), the subscriber unreachable. The subscriber
/// coming back is written once per outage.
public final class DeliveryMonitor: Sendable {
    public let owner: DeliveryOwner
    public let metrics: DeliveryMetrics
    private let logger: Logger
    private let unreachable = Atomic<Bool>(false)
    private let deadLetteredLog: RateLimitedLog
    private let droppedLog: RateLimitedLog
    private let unreachableLog: RateLimitedLog

    public init(owner: DeliveryOwner, metrics: DeliveryMetrics, logger: Logger, logInterval: Duration = .seconds(10)) {
        self.owner = owner
        self.metrics = metrics
        self.logger = logger
        deadLetteredLog = RateLimitedLog(interval: logInterval)
        droppedLog = RateLimitedLog(interval: logInterval)
        unreachableLog = RateLimitedLog(interval: logInterval)
    }

    /// Whether the subscriber's last answer was no answer at all.
    public var subscriberUnreachable: Bool { unreachable.load(ordering: .relaxed) }

    func metadata(_ event: CloudEvent, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["namespace": "\(owner.namespace)", "\(owner.kind)": "\(owner.name)", "id": "\(event.id)"]
        metadata.merge(extra) { $1 }
        return metadata
    }

    // MARK: Events of a delivery

    func attempted() { metrics.attempts.increment() }
    func retried() { metrics.retries.increment() }
    func delivered() { metrics.delivered.increment() }
    func repliesForwarded(_ count: Int) { metrics.replies.increment(by: count) }

    func replyIgnored(_ event: CloudEvent, reason: String) {
        logger.info("ignoring a reply that is not a valid CloudEvent", metadata: metadata(event, ["reason": "\(reason)"]))
    }

    func replyRefused(_ event: CloudEvent, by sink: String, reason: String) {
        metrics.repliesRefused.increment()
        logger.info("reply refused", metadata: metadata(event, ["sink": "\(sink)", "reason": "\(reason)"]))
    }

    func deadLettered(_ event: CloudEvent, sink: DeliveryTarget, failure: DeliveryFailure) {
        metrics.deadLettered.increment()
        deadLetteredLog.record { suppressed in
            var metadata = self.metadata(event, ["sink": "\(sink)", "status": "\(failure.status)", "reason": "\(failure.reason)"])
            metadata.noteSuppressed(suppressed)
            logger.warning("delivery failed; event sent to the dead-letter sink", metadata: metadata)
        }
    }

    /// The event is given up: no dead-letter sink, or the sink failed too.
    func dropped(_ event: CloudEvent, failure: DeliveryFailure, deadLetterFailure: DeliveryFailure?) {
        if deadLetterFailure != nil {
            metrics.deadLetterFailures.increment()
        } else {
            metrics.dropped.increment()
        }
        droppedLog.record { suppressed in
            var metadata = self.metadata(event, ["status": "\(failure.status)", "reason": "\(failure.reason)"])
            metadata.noteSuppressed(suppressed)
            if let deadLetterFailure {
                metadata["sinkStatus"] = "\(deadLetterFailure.status)"
                metadata["sinkReason"] = "\(deadLetterFailure.reason)"
                logger.error("delivery failed and the dead-letter sink failed too; event dropped", metadata: metadata)
            } else {
                logger.warning("delivery failed and there is no dead-letter sink; event dropped", metadata: metadata)
            }
        }
    }

    func subscriberUnreachable(_ event: CloudEvent, target: DeliveryTarget, reason: String) {
        let first = !unreachable.exchange(true, ordering: .relaxed)
        guard first else { return }
        unreachableLog.record { suppressed in
            var metadata = self.metadata(event, ["subscriber": "\(target)", "reason": "\(reason)"])
            metadata.noteSuppressed(suppressed)
            logger.warning("subscriber unreachable", metadata: metadata)
        }
    }

    func subscriberAnswered(target: DeliveryTarget) {
        guard unreachable.load(ordering: .relaxed), unreachable.exchange(false, ordering: .relaxed) else { return }
        logger.warning("subscriber reachable again", metadata: [
            "namespace": "\(owner.namespace)", "\(owner.kind)": "\(owner.name)", "subscriber": "\(target)",
        ])
    }
}

/// One delivering resource's metric handles: made once when the resource is created,
/// destroyed when it is removed (`release`). Counters and the queue depth are named
/// `<prefix>_...` (Sluice's own); durations use Knative's histograms.
public final class DeliveryMetrics: Sendable {
    public let attempts: CoreMetrics.Counter
    public let delivered: CoreMetrics.Counter
    public let retries: CoreMetrics.Counter
    public let deadLettered: CoreMetrics.Counter
    public let deadLetterFailures: CoreMetrics.Counter
    public let dropped: CoreMetrics.Counter
    public let replies: CoreMetrics.Counter
    public let repliesRefused: CoreMetrics.Counter
    /// Events waiting or in flight, set when the metrics are read.
    public let queueDepth: CoreMetrics.Gauge
    /// `kn_eventing_dispatch_duration_seconds`: each attempt at the subscriber.
    public let dispatch: TimerFamily
    /// `kn_eventing_process_duration_seconds`: the wait between storing and delivering.
    public let process: TimerFamily

    /// `labels` name the resource (Knative's `kn_broker_name`, `kn_trigger_name`, ...);
    /// `shards` is the number of loops that record.
    public init(prefix: String, labels: [(String, String)], factory: any MetricsFactory, options: MetricsOptions, shards: Int) {
        func counter(_ name: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: "\(prefix)_\(name)", dimensions: labels, factory: factory)
        }
        attempts = counter("delivery_attempts_total")
        delivered = counter("events_delivered_total")
        retries = counter("retries_total")
        deadLettered = counter("events_dead_lettered_total")
        deadLetterFailures = counter("dead_letter_failures_total")
        dropped = counter("events_dropped_total")
        replies = counter("replies_total")
        repliesRefused = counter("replies_refused_total")
        queueDepth = CoreMetrics.Gauge(label: "\(prefix)_queue_depth", dimensions: labels, factory: factory)
        dispatch = TimerFamily(label: MetricNames.dispatchDuration, dimensions: labels, factory: factory, options: options, shards: shards)
        process = TimerFamily(label: MetricNames.processDuration, dimensions: labels, factory: factory, options: options, shards: shards)
    }

    /// Handles that count nowhere (tests, tools).
    public static func discarded() -> DeliveryMetrics {
        DeliveryMetrics(prefix: "unused", labels: [], factory: NOOPMetricsHandler.instance, options: MetricsOptions(), shards: 1)
    }

    /// Takes the handles out of the exporter: the resource was removed.
    public func release() {
        for counter in [attempts, delivered, retries, deadLettered, deadLetterFailures, dropped, replies, repliesRefused] { counter.destroy() }
        queueDepth.destroy()
        dispatch.destroy()
        process.destroy()
    }
}
