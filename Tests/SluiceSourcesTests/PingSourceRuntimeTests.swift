import Foundation
import Logging
import SluiceCloudEvents
@testable import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceStorage
import Testing
@testable import SluiceSources

/// A clock the test moves by hand: timers run on the test's thread when it advances.
private final class ManualClock: PingClock, @unchecked Sendable {
    private let state: Locked<(now: Date, timers: [(at: Date, body: @Sendable () -> Void)])>

    init(_ now: Date) { state = Locked((now, [])) }

    var now: Date { state.withLock { $0.now } }

    func schedule(after seconds: Double, _ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.timers.append(($0.now.addingTimeInterval(seconds), body)) }
    }

    var pending: Int { state.withLock { $0.timers.count } }

    /// Runs every timer due by `date`, in time order, with the clock at each one's time.
    func advance(to date: Date) {
        while true {
            let due: (@Sendable () -> Void)? = state.withLock { state in
                guard let index = state.timers.indices.min(by: { state.timers[$0].at < state.timers[$1].at }),
                      state.timers[index].at <= date else { return nil }
                let timer = state.timers.remove(at: index)
                state.now = max(state.now, timer.at)
                return timer.body
            }
            guard let due else { break }
            due()
        }
        state.withLock { $0.now = max($0.now, date) }
    }
}

@Suite("PingSource ticks")
struct PingSourceRuntimeTests {
    private let start = Date(timeIntervalSince1970: 1_796_212_800)  // 2026-12-02T12:00:00Z

    private func manifest(schedule: String, data: String? = "{\"hello\":\"world\"}", contentType: String? = "application/json") -> PingSourceManifest {
        let location = SourceLocation(file: "test.yaml", line: 1)
        return PingSourceManifest(meta: ObjectMeta(name: "every-minute", namespace: "team", annotations: [:], labels: [:], location: location),
                                  schedule: schedule, scheduleLocation: location, timezone: nil, timezoneLocation: location,
                                  contentType: contentType, data: data.map { Array($0.utf8) }, sink: Destination(ref: nil, uri: "http://sink/", location: location),
                                  ceOverrides: [("region", "eu")])
    }

    private func runtime(_ manifest: PingSourceManifest, clock: ManualClock, lastTick: Locked<Date> = Locked(.distantPast),
                         sent: Locked<[CloudEvent]>) throws -> PingSourceRuntime {
        let monitor = DeliveryMonitor(owner: DeliveryOwner(kind: "pingsource", namespace: "team", name: "every-minute"), metrics: .discarded(),
                                      logger: Logger(label: "test"))
        let route = DeliveryRoute(monitor: monitor, subscriber: .http(try #require(HTTPURL("http://sink/"))), policy: DeliveryPolicy(), replies: nil)
        return PingSourceRuntime(manifest: manifest, fingerprint: "", schedule: try CronSchedule(manifest.schedule, timeZone: "UTC"), route: route,
                                 clock: clock, lastTick: lastTick, logger: Logger(label: "test")) { stored, _, _ in
            sent.withLock { $0.append(stored.event) }
        }
    }

    private func attribute(_ event: CloudEvent, _ name: StaticString) -> String? {
        event.withView { view in view.value(of: name).map { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func everyMinuteSendsKnativesPingEventAtTheScheduledTime() throws {
        let clock = ManualClock(start.addingTimeInterval(20))
        let sent = Locked<[CloudEvent]>([])
        let ping = try runtime(manifest(schedule: "* * * * *"), clock: clock, sent: sent)
        ping.start()
        clock.advance(to: start.addingTimeInterval(59))
        #expect(sent.withLock { $0 }.isEmpty)
        clock.advance(to: start.addingTimeInterval(3 * 60 + 1))
        let events = sent.withLock { $0 }
        #expect(events.count == 3)
        #expect(events.map { attribute($0, AttributeName.time) } == ["2026-12-02T12:01:00.000Z", "2026-12-02T12:02:00.000Z", "2026-12-02T12:03:00.000Z"])
        let first = try #require(events.first)
        #expect(attribute(first, AttributeName.type) == "dev.knative.sources.ping")
        #expect(attribute(first, AttributeName.source) == "/apis/v1/namespaces/team/pingsources/every-minute")
        #expect(attribute(first, AttributeName.datacontenttype) == "application/json")
        #expect(first.withView { view in view.value(of: "region").map { String(decoding: $0, as: UTF8.self) } } == "eu")
        #expect(first.data.map { String(decoding: $0, as: UTF8.self) } == "{\"hello\":\"world\"}")
        #expect(Set(events.compactMap { attribute($0, AttributeName.id) }).count == 3, "a fresh id per tick")
        ping.stop()
        clock.advance(to: start.addingTimeInterval(10 * 60))
        #expect(sent.withLock { $0 }.count == 3, "no tick after stop")
    }

    @Test func aRebuiltSourceNeverSendsATickTwiceAndMissedTicksAreNotReplayed() throws {
        let clock = ManualClock(start.addingTimeInterval(-1))
        let sent = Locked<[CloudEvent]>([])
        let lastTick = Locked(Date.distantPast)
        let first = try runtime(manifest(schedule: "* * * * *"), clock: clock, lastTick: lastTick, sent: sent)
        first.start()
        clock.advance(to: start.addingTimeInterval(0.5))
        #expect(sent.withLock { $0 }.count == 1)
        // A reload rebuilds it with a new data; the clock has not reached the next minute.
        first.stop()
        let second = try runtime(manifest(schedule: "* * * * *", data: "changed"), clock: clock, lastTick: lastTick, sent: sent)
        second.start()
        clock.advance(to: start.addingTimeInterval(60.5))
        #expect(sent.withLock { $0 }.map { attribute($0, AttributeName.time) } == ["2026-12-02T12:00:00.000Z", "2026-12-02T12:01:00.000Z"])
        // Down for ten minutes (no timer ran): the next tick is the next minute, not ten old ones.
        second.stop()
        let third = try runtime(manifest(schedule: "* * * * *"), clock: clock, lastTick: lastTick, sent: sent)
        clock.advance(to: start.addingTimeInterval(11 * 60 + 30))
        third.start()
        clock.advance(to: start.addingTimeInterval(12 * 60 + 1))
        #expect(sent.withLock { $0 }.count == 3)
        #expect(sent.withLock { $0 }.last.flatMap { attribute($0, AttributeName.time) } == "2026-12-02T12:12:00.000Z")
        #expect(clock.pending == 1)
    }

    @Test func noDataMeansNoDataAndNoContentType() throws {
        let clock = ManualClock(start)
        let sent = Locked<[CloudEvent]>([])
        let ping = try runtime(manifest(schedule: "@every 1s", data: nil, contentType: nil), clock: clock, sent: sent)
        ping.start()
        clock.advance(to: start.addingTimeInterval(2))
        let events = sent.withLock { $0 }
        #expect(events.count == 2)
        #expect(events.first?.data == nil)
        #expect(events.first.flatMap { attribute($0, AttributeName.datacontenttype) } == nil)
    }
}
