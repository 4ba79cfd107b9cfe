import FoundationEssentials
import Logging
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceIO
import SluiceStorage

/// Time as a PingSource sees it: the wall clock, and a timer. A seam, so tests can run a
/// `* * * * *` schedule without waiting a minute.
public protocol PingClock: Sendable {
    var now: Date { get }
    /// Calls `body` once, `seconds` from now, on the source's loop.
    func schedule(after seconds: Double, _ body: @escaping @Sendable () -> Void)
}

/// The wall clock with an event loop's timers.
struct LoopClock: PingClock {
    let loop: EventLoop

    var now: Date { Date() }

    func schedule(after seconds: Double, _ body: @escaping @Sendable () -> Void) {
        loop.execute { loop.schedule(after: .nanoseconds(Int64(max(0, seconds) * 1e9))) { body() } }
    }
}

/// One PingSource running: at each time its schedule names it sends Knative's ping event
/// (type `dev.knative.sources.ping`, source `/apis/v1/namespaces/<ns>/pingsources/<name>`, a
/// fresh UUID, `time` the scheduled time, the spec's data) along its route. A tick is computed
/// from now, so ticks missed while the process was down are not replayed, and never at or
/// before the last one sent, so a reload that rebuilds the source sends no tick twice.
final class PingSourceRuntime: Deliverer.Owner, @unchecked Sendable {  // mutable state is confined to the clock's loop
    let manifest: PingSourceManifest
    let fingerprint: String
    let route: DeliveryRoute
    private let schedule: CronSchedule
    private let clock: any PingClock
    private let send: @Sendable (StoredEvent, DeliveryRoute, PingSourceRuntime) -> Void
    private let logger: Logger
    private let source: String
    private let stopped = Locked(false)
    private var ids = UUIDGenerator()
    /// The scheduled time of the last tick sent (shared with the runtime that replaces it).
    let lastTick: Locked<Date>

    init(manifest: PingSourceManifest, fingerprint: String, schedule: CronSchedule, route: DeliveryRoute, clock: any PingClock,
         lastTick: Locked<Date>, logger: Logger, send: @escaping @Sendable (StoredEvent, DeliveryRoute, PingSourceRuntime) -> Void) {
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.schedule = schedule
        self.route = route
        self.clock = clock
        self.lastTick = lastTick
        self.logger = logger
        self.send = send
        source = "/apis/v1/namespaces/\(manifest.meta.namespace)/pingsources/\(manifest.meta.name)"
    }

    func start() {
        arm()
    }

    /// No tick after this one returns.
    func stop() {
        stopped.withLock { $0 = true }
    }

    private func arm() {
        let now = clock.now
        guard let next = schedule.next(after: max(now, lastTick.withLock { $0 })) else {
            logger.warning("PingSource \(manifest.meta.namespace)/\(manifest.meta.name): its schedule never fires again")
            return
        }
        clock.schedule(after: next.timeIntervalSince(now)) { [self] in tick(next) }
    }

    private func tick(_ scheduled: Date) {
        guard !stopped.withLock({ $0 }) else { return }
        // The loop's timers run on the monotonic clock; a wall clock that moved back waits on.
        let early = scheduled.timeIntervalSince(clock.now)
        if early > 0.001 {
            clock.schedule(after: early) { [self] in tick(scheduled) }
            return
        }
        lastTick.withLock { $0 = max($0, scheduled) }
        send(StoredEvent(event: event(at: scheduled), position: StreamPosition(offset: 0)), route, self)
        arm()
    }

    /// The event of the tick scheduled at `time`.
    func event(at time: Date) -> CloudEvent {
        var builder = CloudEventBuilder()
        builder.set(trusted: AttributeName.id, value: ids.next(), kind: .string)
        builder.set(trusted: AttributeName.source, value: source, kind: .uriReference)
        builder.set(trusted: AttributeName.type, value: "dev.knative.sources.ping", kind: .string)
        builder.set(trusted: AttributeName.time, value: Generated.rfc3339(milliseconds: Int64((time.timeIntervalSince1970 * 1000).rounded())),
                    kind: .timestamp)
        if let contentType = manifest.contentType { builder.set(trusted: AttributeName.datacontenttype, value: contentType, kind: .string) }
        for (name, value) in manifest.ceOverrides {
            // Checked at load: names are attribute keys and none is a required attribute.
            try? builder.add(name: name, value: value, kind: .string)
        }
        return builder.build(data: manifest.data)
    }

    // MARK: Deliverer.Owner

    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {}

    func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        if outcome == .dropped {
            logger.warning("PingSource \(manifest.meta.namespace)/\(manifest.meta.name): a tick could not be delivered and is lost")
        }
    }
}
