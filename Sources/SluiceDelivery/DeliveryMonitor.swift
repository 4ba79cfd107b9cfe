import Logging
import SluiceCloudEvents
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
    public let counters = DeliveryCounters()
    private let logger: Logger
    private let unreachable = Atomic<Bool>(false)
    private let deadLetteredLog: RateLimitedLog
    private let droppedLog: RateLimitedLog
    private let unreachableLog: RateLimitedLog

    public init(owner: DeliveryOwner, logger: Logger, logInterval: Duration = .seconds(10)) {
        self.owner = owner
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

    func attempted() { counters.attempts.add(1, ordering: .relaxed) }
    func retried() { counters.retries.add(1, ordering: .relaxed) }
    func delivered() { counters.delivered.add(1, ordering: .relaxed) }
    func repliesForwarded(_ count: Int) { counters.replies.add(count, ordering: .relaxed) }

    func replyIgnored(_ event: CloudEvent, reason: String) {
        logger.info("ignoring a reply that is not a valid CloudEvent", metadata: metadata(event, ["reason": "\(reason)"]))
    }

    func replyRefused(_ event: CloudEvent, by sink: String, reason: String) {
        counters.repliesRefused.add(1, ordering: .relaxed)
        logger.info("reply refused", metadata: metadata(event, ["sink": "\(sink)", "reason": "\(reason)"]))
    }

    func deadLettered(_ event: CloudEvent, sink: DeliveryTarget, failure: DeliveryFailure) {
        counters.deadLettered.add(1, ordering: .relaxed)
        deadLetteredLog.record { suppressed in
            var metadata = self.metadata(event, ["sink": "\(sink)", "status": "\(failure.status)", "reason": "\(failure.reason)"])
            metadata.noteSuppressed(suppressed)
            logger.warning("delivery failed; event sent to the dead-letter sink", metadata: metadata)
        }
    }

    /// The event is given up: no dead-letter sink, or the sink failed too.
    func dropped(_ event: CloudEvent, failure: DeliveryFailure, deadLetterFailure: DeliveryFailure?) {
        if deadLetterFailure != nil {
            counters.deadLetterFailures.add(1, ordering: .relaxed)
        } else {
            counters.dropped.add(1, ordering: .relaxed)
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
            logger.warning("subscriber unreachable; retrying per the delivery spec", metadata: metadata)
        }
    }

    func subscriberAnswered(target: DeliveryTarget) {
        guard unreachable.load(ordering: .relaxed), unreachable.exchange(false, ordering: .relaxed) else { return }
        logger.warning("subscriber reachable again", metadata: [
            "namespace": "\(owner.namespace)", "\(owner.kind)": "\(owner.name)", "subscriber": "\(target)",
        ])
    }
}

/// Counters of one resource's deliveries.
public final class DeliveryCounters: Sendable {
    public let attempts = Atomic<Int>(0)
    public let delivered = Atomic<Int>(0)
    public let retries = Atomic<Int>(0)
    public let deadLettered = Atomic<Int>(0)
    public let deadLetterFailures = Atomic<Int>(0)
    public let dropped = Atomic<Int>(0)
    public let replies = Atomic<Int>(0)
    public let repliesRefused = Atomic<Int>(0)

    public init() {}
}
