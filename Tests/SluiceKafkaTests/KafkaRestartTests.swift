import Foundation
import SluiceTestSupport
import Testing

/// At least once across restarts: offsets are committed only after delivery, so records
/// produced while Sluice is down, and those in flight when it died, arrive after it restarts.
@Suite("KafkaSource restarts", .serialized)
struct KafkaRestartTests {
    @Test("SIGTERM and SIGKILL with records arriving while Sluice is down lose nothing", arguments: [SIGTERM, SIGKILL])
    func restartLosesNothing(signal: Int32) throws {
        let cluster = try KafkaCluster(topics: [("in", 2)])
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/s")) + "\n---\n"
                + KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in", ordering: "unordered")])
        let data = temporaryDirectory("kafka-restart")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        try cluster.produce((0..<10).map { .init(value: "before \($0)") }, topic: "in")
        #expect(eventually(seconds: 20) { Set(subscriber.requests.map(\.bodyText)).count == 10 }, "\(sluice.standardError)")
        // Slow answers keep records in flight at the kill.
        subscriber.answer { _, _ in .after(seconds: 0.3, .status(200)) }
        try cluster.produce((0..<5).map { .init(value: "during \($0)") }, topic: "in")
        usleep(400_000)
        sluice.signal(signal)
        #expect(sluice.waitForExit() != nil)
        subscriber.answer { _, _ in .status(200) }
        try cluster.produce((0..<10).map { .init(value: "while down \($0)") }, topic: "in")
        sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        let expected = Set((0..<10).map { "before \($0)" } + (0..<5).map { "during \($0)" } + (0..<10).map { "while down \($0)" })
        #expect(eventually(seconds: 40) { expected.isSubset(of: Set(subscriber.requests.map(\.bodyText))) },
                "missing: \(expected.subtracting(subscriber.requests.map(\.bodyText)))\n\(sluice.standardError)")
        subscriber.stop()
    }
}

/// Several Sluice processes with the same KafkaSource share its consumer group: they split the
/// partitions, and a rebalance hands them over with what was delivered committed.
@Suite("KafkaSource rebalances", .serialized)
struct KafkaRebalanceTests {
    @Test("a second process takes half the partitions without redelivering; when it dies the first takes them back")
    func rebalance() throws {
        let cluster = try KafkaCluster(topics: [("in", 2)])
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in",
                                                                              sink: "uri: \"\(subscriber.url("/s"))\"")])
        let first = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce((0..<10).map { .init(key: "k\($0)", value: "one \($0)") }, topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests.count == 10 }, "\(first.standardError)")
        // Let the periodic commit (250 ms) record them: the mock cluster refuses the commit
        // librdkafka makes at revocation once the rebalance has begun (Kafka accepts it from
        // a member of the current generation), so only what was committed before counts.
        usleep(1_000_000)
        let second = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { second.standardError.contains("partitions assigned") }, "\(second.standardError)")
        try cluster.produce((0..<10).map { .init(key: "k\($0)", value: "two \($0)") }, topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests.count >= 20 })
        usleep(500_000)
        // Nothing was in flight at the handover, so nothing came twice.
        #expect(subscriber.requests.count == 20, "\(subscriber.requests.map(\.bodyText).sorted())")
        second.signal(SIGKILL)
        _ = second.waitForExit()
        try cluster.produce((0..<10).map { .init(key: "k\($0)", value: "three \($0)") }, topic: "in")
        let expected = Set((0..<10).flatMap { ["one \($0)", "two \($0)", "three \($0)"] })
        #expect(eventually(seconds: 30) { expected.isSubset(of: Set(subscriber.requests.map(\.bodyText))) },
                "missing: \(expected.subtracting(subscriber.requests.map(\.bodyText)))\n\(first.standardError)")
        subscriber.stop()
    }
}
