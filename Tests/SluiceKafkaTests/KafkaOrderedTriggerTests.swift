import Foundation
import SluiceTestSupport
import Testing

/// Ordered triggers of a Kafka-class broker (`kafka.eventing.knative.dev/delivery.order:
/// ordered`): one event of a partition out at a time, retries included.
@Suite("Kafka-class brokers: ordered triggers", .serialized)
struct KafkaOrderedTriggerTests {
    @Test("an ordered trigger delivers a partition's events one at a time in offset order, retries and a restart included")
    func orderedTrigger() throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        // Every event fails its first attempt: an unordered trigger would let later ones pass it.
        let tried = FirstAttempts()
        subscriber.answer { request, _ in tried.isFirst(request.eventID ?? "") ? .status(503) : .status(200) }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber, onlyAll: true, ordered: true)])
        let data = temporaryDirectory("kafka-ordered")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        #expect(KafkaManifests.waitForAssignment(sluice, triggers: ["demo/all"]), "\(sluice.standardError)")
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<12 {
            #expect(try sender.send("/demo/default", id: "o\(index)").status == 202)
        }
        let succeeded = { tried.succeeded }
        #expect(eventually(seconds: 30) { succeeded().count >= 6 })
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        defer { sluice.stop() }
        #expect(eventually(seconds: 40) { Set(succeeded()).count == 12 }, "\(succeeded())\n\(sluice.standardError)")
        // Offset order before the kill, and again from the last committed offset after it:
        // what was delivered but not yet committed (up to the 250 ms auto-commit) comes
        // again, in order; nothing is skipped and nothing overtakes.
        let numbers = succeeded().compactMap { Int($0.dropFirst()) }
        let restart = (1..<numbers.count).first { numbers[$0] <= numbers[$0 - 1] } ?? numbers.count
        let before = Array(numbers[..<restart])
        let after = Array(numbers[restart...])
        #expect(before == Array(0..<before.count), "\(succeeded())")
        #expect(after.isEmpty || after == Array(after[0]...11) && after[0] <= before.count, "\(succeeded())")
        #expect(Set(numbers) == Set(0..<12), "\(succeeded())")
    }

    @Test("a partition stuck behind an event in retries is paused, and the trigger's other partition keeps flowing")
    func stuckPartitionIsPaused() throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 2)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        // Every "stuck" event fails (and retries for long); the rest pass.
        subscriber.answer { request, _ in request.header("ce-type") == "stuck" ? .status(503) : .status(200) }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber,
                                                                                   onlyAll: true, ordered: true)])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        #expect(KafkaManifests.waitForAssignment(sluice, triggers: ["demo/all"]), "\(sluice.standardError)")
        // More than the trigger's window of 1,000, all in one partition (one partitionkey):
        // without the pause they would stop the consumer, and the other partition with it.
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<1100 {
            let response = try sender.send("/demo/default", id: "s\(index)", type: "stuck", extensions: ["partitionkey": "one"])
            #expect(response.status == 202)
            if response.status != 202 { break }
        }
        #expect(eventually(seconds: 20) { sluice.standardError.contains("partition paused while its first event is retried") },
                "\(sluice.standardError)")
        // Events without a key land on either partition; those on the other one arrive.
        for index in 0..<40 {
            #expect(try sender.send("/demo/default", id: "ok\(index)", type: "ok").status == 202)
        }
        let passed = { subscriber.requests(to: "/all").filter { $0.eventID?.hasPrefix("ok") == true }.count }
        #expect(eventually(seconds: 20) { passed() >= 5 }, "\(passed()) passed\n\(sluice.standardError)")
        #expect(subscriber.requests(to: "/all").filter { $0.header("ce-type") == "stuck" }.compactMap(\.eventID).allSatisfy { $0 == "s0" },
                "only the first stuck event is tried")
    }
}

/// Which event ids a subscriber saw before, and the order of the attempts it let succeed.
private final class FirstAttempts: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private var passed: [String] = []

    func isFirst(_ id: String) -> Bool {
        lock.withLock {
            if seen.insert(id).inserted { return true }
            passed.append(id)
            return false
        }
    }

    var succeeded: [String] { lock.withLock { passed } }
}

