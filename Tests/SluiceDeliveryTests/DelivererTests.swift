import CoreMetrics
import MetricsTestKit
import SluiceCloudEvents
import SluiceConfig
import SluiceDelivery
import SluiceHTTP
import SluiceIO
import SluiceObservability
import SluiceStorage
import Synchronization
import Testing

// MARK: Fixtures

private let subscriberURL = "http://subscriber.default.svc.cluster.local/"
private let sinkURL = "http://dead-letters.default.svc.cluster.local/"

private func event(_ id: String, ttl: String? = nil) -> CloudEvent {
    var builder = CloudEventBuilder()
    do {
        try builder.add(name: "id", value: id)
        try builder.add(name: "source", value: "/tests")
        try builder.add(name: "type", value: "com.example.test")
        if let ttl { try builder.add(name: "knativebrokerttl", value: ttl, kind: .integer) }
    } catch {
        Issue.record("building event \(id): \(error)")
    }
    return builder.build(data: Array("payload".utf8))
}

private func target(_ url: String) throws -> DeliveryTarget {
    .http(try #require(HTTPURL(url)))
}

/// An in-process sink that records what it accepts and can refuse.
private final class RecordingSink: EventSink, Sendable {
    let address = "broker:default/replies"
    private let refusals: Locked<[SinkRejection]>
    private let accepted = Locked<[CloudEvent]>([])

    init(refusals: [SinkRejection] = []) {
        self.refusals = Locked(refusals)
    }

    func accept(_ events: [CloudEvent], completion: @escaping @Sendable (SinkRejection?) -> Void) {
        if let refusal = refusals.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return completion(refusal) }
        accepted.withLock { $0 += events }
        completion(nil)
    }

    var events: [CloudEvent] { accepted.withLock { $0 } }
}

/// What the core tells the owner of its events.
private final class RecordingOwner: Deliverer.Owner, Sendable {
    let outcomes = Locked<[Deliverer.Outcome]>([])
    let retries = Locked<[(attempts: Int, at: Int64)]>([])

    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64) {
        retries.withLock { $0.append((attempts, nextAttemptAt)) }
    }

    func finished(_ event: StoredEvent, outcome: Deliverer.Outcome) {
        outcomes.withLock { $0.append(outcome) }
    }
}

/// A deliverer on a virtual clock with a scripted network.
private struct Harness {
    let scheduler = ManualScheduler()
    let transport: ScriptedTransport
    let deliverer: Deliverer
    let metrics = TestMetrics()
    let monitor: DeliveryMonitor
    let owner = RecordingOwner()
    var retries: Locked<[(attempts: Int, at: Int64)]> { owner.retries }

    init(scripts: [String: [DeliveryAnswer]] = [:], fallback: DeliveryAnswer = .ok, holding: Bool = false) {
        transport = ScriptedTransport(scheduler: scheduler, scripts: scripts, fallback: fallback, holding: holding)
        deliverer = Deliverer(scheduler: scheduler, transport: transport, seed: 42)
        monitor = DeliveryMonitor(owner: DeliveryOwner(kind: "trigger", namespace: "default", name: "t"),
                                  metrics: DeliveryMetrics(prefix: "test", labels: [("kn_trigger_name", "t")], factory: metrics,
                                                           options: MetricsOptions(), shards: 1),
                                  logger: .init(label: "test"))
    }

    func route(retry: Int = 0, backoff: BackoffPolicy = .exponential, delay: Duration = .seconds(1), retryAfterMax: Duration? = nil,
               deadLetter: DeliveryTarget? = nil, replies: DeliveryTarget? = nil, options: DeliveryOptions = DeliveryOptions()) throws -> DeliveryRoute {
        DeliveryRoute(monitor: monitor, subscriber: try target(subscriberURL),
                      policy: DeliveryPolicy(retry: retry, backoffPolicy: backoff, backoffDelay: delay, retryAfterMax: retryAfterMax,
                                             deadLetter: deadLetter),
                      replies: replies, options: options)
    }

    func deliver(_ event: CloudEvent, route: DeliveryRoute, attemptsMade: Int = 0, nextAttemptAt: Int64 = 0) {
        var stored = StoredEvent(event: event, position: StreamPosition(offset: 1))
        stored.attemptsMade = attemptsMade
        stored.nextAttemptAt = nextAttemptAt
        let owner = self.owner
        scheduler.perform { [stored] in deliverer.deliver(stored, route: route, owner: owner) }
        scheduler.runReady()
    }

    var outcome: [Deliverer.Outcome] { owner.outcomes.withLock { $0 } }
    /// What a counter of the monitor says.
    func count(_ counter: KeyPath<DeliveryMetrics, CoreMetrics.Counter>) -> Int64 {
        (try? metrics.expectCounter(monitor.metrics[keyPath: counter]).totalValue) ?? -1
    }
}

// MARK: Tests

@Suite("Deliverer: retries, dead letters and replies on a virtual clock")
struct DelivererTests {
    @Test func deliveredAtFirstAttempt() throws {
        let harness = Harness()
        harness.deliver(event("1"), route: try harness.route(retry: 3))
        #expect(harness.outcome == [.delivered])
        #expect(harness.transport.sent.count == 1)
        #expect(harness.count(\.attempts) == 1)
        #expect(harness.count(\.delivered) == 1)
        #expect(harness.scheduler.pendingTimers == 0)
    }

    @Test func exponentialScheduleThenDeadLetter() throws {
        let harness = Harness(scripts: [subscriberURL: Array(repeating: .status(500, body: "boom"), count: 4)])
        let route = try harness.route(retry: 3, delay: .seconds(1), deadLetter: try target(sinkURL))
        let start = harness.scheduler.now
        harness.deliver(event("1"), route: route)
        harness.scheduler.advance(by: 20_000)
        let times = harness.transport.sent(to: subscriberURL).map { $0.at - start }
        #expect(times.count == 4, "the first attempt and 3 retries")
        // Waits of 1 s, 2 s, 4 s, each plus up to 10% jitter.
        let waits = zip(times.dropFirst(), times).map { $0 - $1 }
        for (wait, base) in zip(waits, [1000, 2000, 4000] as [Int64]) {
            #expect(wait >= base && wait <= base + base / 10, "waited \(wait) ms for a \(base) ms backoff")
        }
        #expect(harness.retries.withLock { $0.map(\.attempts) } == [1, 2, 3])
        #expect(harness.retries.withLock { $0.map(\.at) } == times.dropFirst().map { $0 + start }, "each retry is recorded with its due time")
        let letters = harness.transport.sent(to: sinkURL)
        #expect(letters.count == 1)
        let letter = try #require(letters.first).request
        #expect(letter.event.string(AttributeName.knativeerrordest) == subscriberURL)
        #expect(letter.event.string(AttributeName.knativeerrorcode) == "500")
        #expect(letter.event.string(AttributeName.knativeerrordata) == "Ym9vbQ==")
        #expect(!letter.preferReply, "dead-letter sinks are not asked for replies")
        #expect(harness.outcome == [.deadLettered])
        #expect(harness.count(\.attempts) == 4)
        #expect(harness.count(\.retries) == 3)
        #expect(harness.count(\.deadLettered) == 1)
    }

    @Test func linearSchedule() throws {
        let harness = Harness(fallback: .status(503))
        harness.deliver(event("1"), route: try harness.route(retry: 3, backoff: .linear, delay: .milliseconds(500)))
        harness.scheduler.advance(by: 10_000)
        let times = harness.transport.sent(to: subscriberURL).map(\.at)
        let waits = zip(times.dropFirst(), times).map { $0 - $1 }
        for (wait, base) in zip(waits, [500, 1000, 1500] as [Int64]) {
            #expect(wait >= base && wait <= base + base / 10, "waited \(wait) ms for a \(base) ms backoff")
        }
        #expect(harness.outcome == [.dropped], "no dead-letter sink")
        #expect(harness.count(\.dropped) == 1)
    }

    @Test func retryAfterLengthensTheWaitUpToItsCap() throws {
        let harness = Harness(scripts: [subscriberURL: [.status(429, retryAfter: .seconds(5)), .status(503, retryAfter: .seconds(60)), .ok]])
        harness.deliver(event("1"), route: try harness.route(retry: 3, delay: .milliseconds(100), retryAfterMax: .seconds(3)))
        harness.scheduler.advance(by: 60_000)
        let times = harness.transport.sent(to: subscriberURL).map(\.at)
        #expect(times.count == 3)
        #expect(times[1] - times[0] == 3000, "429 with Retry-After 5 s, capped by retryAfterMax 3 s")
        #expect(times[2] - times[1] == 3000, "503 with Retry-After 60 s, capped the same way")
        #expect(harness.outcome == [.delivered])
    }

    @Test func retryAfterIsIgnoredOnOtherStatuses() throws {
        let harness = Harness(scripts: [subscriberURL: [.status(500, retryAfter: .seconds(30)), .ok]])
        harness.deliver(event("1"), route: try harness.route(retry: 1, delay: .milliseconds(100)))
        harness.scheduler.advance(by: 60_000)
        let times = harness.transport.sent(to: subscriberURL).map(\.at)
        #expect(times.count == 2 && times[1] - times[0] <= 110)
    }

    @Test func finalAnswersAreNotRetried() throws {
        let harness = Harness(scripts: [subscriberURL: [.status(400, body: "bad event")]])
        harness.deliver(event("1"), route: try harness.route(retry: 5, deadLetter: try target(sinkURL)))
        harness.scheduler.advance(by: 1000)
        #expect(harness.transport.sent(to: subscriberURL).count == 1)
        let letter = try #require(harness.transport.sent(to: sinkURL).first).request.event
        #expect(letter.string(AttributeName.knativeerrorcode) == "400")
        #expect(harness.outcome == [.deadLettered])
    }

    @Test func unreachableCountsAs500AndIsRetried() throws {
        let harness = Harness(scripts: [subscriberURL: [.unreachable(reason: "connection refused"), .unreachable(reason: "connection refused")]])
        harness.deliver(event("1"), route: try harness.route(retry: 1, delay: .milliseconds(10), deadLetter: try target(sinkURL)))
        #expect(harness.monitor.subscriberUnreachable)
        harness.scheduler.advance(by: 1000)
        let letter = try #require(harness.transport.sent(to: sinkURL).first).request.event
        #expect(letter.string(AttributeName.knativeerrorcode) == "500")
        let data = try #require(letter.string(AttributeName.knativeerrordata))
        #expect(Array(data.utf8).withUnsafeBytes { Base64.decode($0) }.map { String(decoding: $0, as: UTF8.self) }
                == "dispatch error: connection refused")
    }

    @Test func theDeadLetterSinkIsRetriedWithTheSamePolicyThenTheEventIsDropped() throws {
        let harness = Harness(scripts: [subscriberURL: Array(repeating: .status(500), count: 3), sinkURL: Array(repeating: .status(503), count: 3)])
        harness.deliver(event("1"), route: try harness.route(retry: 2, delay: .seconds(1), deadLetter: try target(sinkURL)))
        harness.scheduler.advance(by: 20_000)
        #expect(harness.transport.sent(to: subscriberURL).count == 3)
        let times = harness.transport.sent(to: sinkURL).map(\.at)
        #expect(times.count == 3, "the sink gets the first attempt and 2 retries")
        #expect(times[1] - times[0] >= 1000 && times[2] - times[1] >= 2000, "with the same backoff")
        #expect(harness.outcome == [.dropped])
        #expect(harness.count(\.deadLetterFailures) == 1)
        #expect(harness.count(\.attempts) == 3, "attempts count the subscriber's only")
    }

    @Test func brokerOptionsHideTheTTLAndPutItBackOnReplies() throws {
        let reply = event("reply")
        let harness = Harness(scripts: [subscriberURL: [.response(status: 200, body: [], retryAfter: nil, reply: .events([reply]))]])
        let replies = RecordingSink()
        let route = try harness.route(replies: .local(replies), options: .broker(namespace: "default"))
        harness.deliver(event("1", ttl: "17"), route: route)
        let request = try #require(harness.transport.sent.first).request
        #expect(request.preferReply && request.decodesReply)
        #expect(request.hiddenAttribute.map { "\($0)" } == "knativebrokerttl")
        #expect(String(decoding: request.headerLines, as: UTF8.self) == "Kn-Namespace: default\r\n")
        #expect(replies.events.map(\.id) == ["reply"])
        #expect(replies.events.first?.string(AttributeName.knativebrokerttl) == "17", "the reply carries the TTL the event had")
        #expect(harness.outcome == [.delivered])
        #expect(harness.count(\.replies) == 1)
    }

    @Test func aReplyTheBrokerCannotTakeYetRetriesTheDelivery() throws {
        let reply = event("reply")
        let answer = DeliveryAnswer.response(status: 200, body: [], retryAfter: nil, reply: .events([reply]))
        let harness = Harness(scripts: [subscriberURL: [answer, answer]])
        let replies = RecordingSink(refusals: [SinkRejection(status: 503, reason: "the broker is full", retryable: true)])
        harness.deliver(event("1"), route: try harness.route(retry: 1, delay: .milliseconds(100), replies: .local(replies)))
        harness.scheduler.advance(by: 1000)
        #expect(harness.transport.sent(to: subscriberURL).count == 2)
        #expect(replies.events.map(\.id) == ["reply"])
        #expect(harness.outcome == [.delivered])
    }

    @Test func aReplyRefusedForGoodIsDeadLetteredWithTheSinkAsDestination() throws {
        let answer = DeliveryAnswer.response(status: 200, body: [], retryAfter: nil, reply: .events([event("reply")]))
        let harness = Harness(scripts: [subscriberURL: [answer]])
        let replies = RecordingSink(refusals: [SinkRejection(status: 400, reason: "knativebrokerttl reached 0", retryable: false)])
        harness.deliver(event("1"), route: try harness.route(retry: 3, deadLetter: try target(sinkURL), replies: .local(replies)))
        harness.scheduler.advance(by: 1000)
        #expect(harness.transport.sent(to: subscriberURL).count == 1)
        let letter = try #require(harness.transport.sent(to: sinkURL).first).request.event
        #expect(letter.string(AttributeName.knativeerrordest) == "broker:default/replies")
        #expect(letter.string(AttributeName.knativeerrorcode) == "400")
        #expect(harness.count(\.repliesRefused) == 1)
    }

    @Test func repliesGoOverHTTPWhenTheReplyIsAURL() throws {
        let replyURL = "http://replies.default.svc.cluster.local/"
        let answer = DeliveryAnswer.response(status: 202, body: [], retryAfter: nil, reply: .events([event("r1"), event("r2")]))
        let harness = Harness(scripts: [subscriberURL: [answer]])
        harness.deliver(event("1"), route: try harness.route(replies: try target(replyURL)))
        #expect(harness.transport.sent(to: replyURL).map(\.request.event.id) == ["r1", "r2"])
        #expect(harness.transport.sent(to: replyURL).allSatisfy { !$0.request.preferReply })
        #expect(harness.outcome == [.delivered])
    }

    @Test func withoutAReplyDestinationRepliesAreNotDecoded() throws {
        let harness = Harness()
        harness.deliver(event("1"), route: try harness.route())
        let request = try #require(harness.transport.sent.first).request
        #expect(request.preferReply, "Knative asks every subscriber for a reply")
        #expect(!request.decodesReply)
    }

    @Test func aRecoveredEventResumesAtItsAttemptAndTime() throws {
        let harness = Harness(fallback: .status(500))
        let route = try harness.route(retry: 3, delay: .seconds(1))
        let due = harness.scheduler.now + 5000
        harness.deliver(event("1"), route: route, attemptsMade: 3, nextAttemptAt: due)
        #expect(harness.transport.sent.isEmpty, "nothing before the recorded time")
        harness.scheduler.advance(by: 4999)
        #expect(harness.transport.sent.isEmpty)
        harness.scheduler.advance(by: 1)
        #expect(harness.transport.sent.map(\.at) == [due], "the one attempt left, when it was due")
        harness.scheduler.advance(by: 60_000)
        #expect(harness.transport.sent.count == 1)
        #expect(harness.outcome == [.dropped])
    }
}
