import Foundation
import SluiceTestSupport
import Testing

/// Retry schedules of a Kafka-class broker live in its retry-state topic: the attempts made
/// and the time of the next one survive a restart and a rebalance, where Knative's dispatcher
/// starts an event's retries again.
@Suite("Kafka-class brokers: retry schedules", .serialized)
struct KafkaRetryStateTests {
    /// One trigger that retries twice, 5 s then 10 s apart (linear), then dead-letters: the
    /// attempts come at 0, 5 and 15 s.
    private func manifests(bootstrap: String, subscriber: Subscriber) -> String {
        """
        \(KafkaManifests.kafkaBrokerDefault(bootstrap: bootstrap, partitions: 1))
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: slow, namespace: demo}
        spec:
          broker: default
          subscriber: {uri: "\(subscriber.url("/slow"))"}
          delivery:
            retry: 2
            backoffPolicy: linear
            backoffDelay: PT5S
            deadLetterSink: {uri: "\(subscriber.url("/dls"))"}
        """
    }

    private func setUp() throws -> (KafkaCluster, Subscriber, String) {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 1)])
        let subscriber = try Subscriber()
        subscriber.answer { request, _ in request.path == "/slow" ? .status(500) : .status(200) }
        let config = try manifestDirectory(["all.yaml": manifests(bootstrap: cluster.bootstrap, subscriber: subscriber)])
        return (cluster, subscriber, config)
    }

    private func assigned(_ sluice: SluiceProcess) -> Bool {
        eventually(seconds: 30) { sluice.standardError.contains("partitions assigned") }
    }

    /// Three attempts in all, the third 10 s after the second (not at once, as a schedule
    /// begun again would make it; later by at most `lateBy`, the time the partition may take
    /// to reach its new owner), then the dead-letter sink, once.
    private func expectScheduleKept(_ subscriber: Subscriber, lateBy: Double = 3, logs: () -> String) {
        #expect(eventually(seconds: 40) { subscriber.requests(to: "/dls").count == 1 }, "\(logs())")
        Thread.sleep(forTimeInterval: 1)
        // An attempt in flight while the partition moves may be made again by its next owner
        // (at least once): attempts within a second of each other are one. A schedule begun
        // again would add attempts seconds apart.
        var attempts: [Double] = []
        for time in subscriber.requests(to: "/slow").map(\.time) where attempts.last.map({ time - $0 > 1 }) ?? true { attempts.append(time) }
        #expect(attempts.count == 3, "attempts at \(attempts)\n\(logs())")
        if attempts.count >= 3 {
            let gap = attempts[2] - attempts[1]
            #expect(gap > 9.5 && gap < 10 + lateBy, "the third attempt came \(gap) s after the second")
        }
        #expect(subscriber.requests(to: "/dls").count == 1)
    }

    @Test("an event's retries continue on schedule after kill -9 and a restart with an empty data directory")
    func acrossRestart() throws {
        let (cluster, subscriber, config) = try setUp()
        defer { subscriber.stop(); withExtendedLifetime(cluster) {} }
        var sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(assigned(sluice), "\(sluice.standardError)")
        #expect(try EventSender(port: sluice.ingressPort).send("/demo/default", id: "r1").status == 202)
        #expect(eventually(seconds: 15) { subscriber.requests(to: "/slow").count == 2 }, "\(sluice.standardError)")
        // The schedule reaches the topic within milliseconds of the second failure.
        Thread.sleep(forTimeInterval: 0.5)
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        expectScheduleKept(subscriber) { sluice.standardError }
    }

    @Test("an event's retries continue on schedule in the process its partition moves to")
    func acrossRebalance() throws {
        let (cluster, subscriber, config) = try setUp()
        defer { subscriber.stop(); withExtendedLifetime(cluster) {} }
        let first = try SluiceProcess.serve(config: config, memory: true)
        defer { first.stop() }
        #expect(assigned(first), "\(first.standardError)")
        #expect(try EventSender(port: first.ingressPort).send("/demo/default", id: "r1").status == 202)
        #expect(eventually(seconds: 15) { subscriber.requests(to: "/slow").count == 2 }, "\(first.standardError)")
        let second = try SluiceProcess.serve(config: config, memory: true)
        defer { second.stop() }
        // The second joins the group, then the first leaves it: the partition ends with the
        // second, whichever of them the join gave it to.
        #expect(assigned(second), "\(second.standardError)")
        first.stop()
        // A rebalance under load (CI's) has taken up to 6 s more: the partition has no owner
        // meanwhile, and the due retry waits for the next.
        expectScheduleKept(subscriber, lateBy: 10) { first.standardError + "\n---\n" + second.standardError }
        #expect(second.standardError.contains("knative-broker-demo-default/0"), "\(first.standardError)\n---\n\(second.standardError)")
    }
}
