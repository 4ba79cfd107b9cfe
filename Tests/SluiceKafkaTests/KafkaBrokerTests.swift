import Foundation
import SluiceTestSupport
import Testing

/// Kafka-class brokers on the mock cluster: events live in the broker's topic and each
/// trigger's progress in its consumer group, not on local disk.
@Suite("Kafka-class brokers", .serialized)
struct KafkaBrokerTests {
    @Test("events go through the topic to every matching trigger, and survive a restart with an empty data directory")
    func deliversThroughKafka() throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 2)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber)])
        var sluice = try SluiceProcess.serve(config: config)
        #expect(KafkaManifests.waitForAssignment(sluice), "\(sluice.standardError)")
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<10 {
            #expect(try sender.send("/demo/default", id: "e\(index)", type: index % 2 == 0 ? "a" : "b").status == 202)
        }
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/all").count >= 10 && subscriber.requests(to: "/typed").count >= 5 },
                "\(sluice.standardError)")
        #expect(Set(subscriber.requests(to: "/all").compactMap(\.eventID)) == Set((0..<10).map { "e\($0)" }))
        #expect(Set(subscriber.requests(to: "/typed").compactMap(\.eventID)) == Set([1, 3, 5, 7, 9].map { "e\($0)" }))
        #expect(subscriber.requests(to: "/all").first?.header("ce-knativebrokerttl") == nil, "the TTL stays hidden from subscribers")
        let topic = try cluster.consume(topic: "knative-broker-demo-default")
        #expect(topic.count == 10, "binary-mode records in the broker's topic")
        // Scrapes read the lag the previous scrape asked the consumer's loop for.
        #expect(eventually(seconds: 5) {
            (try? get(port: sluice.metricsPort, path: "/metrics"))?.1
                .contains("sluice_kafka_consumer_lag{messaging_consumer_group_name=\"knative-trigger-demo-all\"") == true
        })

        // Accepted while the subscriber fails, then the process is killed: the events are in
        // Kafka and their offsets uncommitted, so a process with an empty data directory
        // delivers them.
        subscriber.answer { request, _ in request.path == "/all" ? .status(503) : .status(200) }
        for index in 0..<5 {
            #expect(try sender.send("/demo/default", id: "down\(index)", type: "c").status == 202)
        }
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/all").filter { $0.eventID?.hasPrefix("down") == true }.count >= 5 })
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        subscriber.answer { _, _ in .status(200) }
        let before = subscriber.requests(to: "/all").count
        sluice = try SluiceProcess.serve(config: config)
        defer { sluice.stop() }
        let expected = Set((0..<5).map { "down\($0)" })
        #expect(eventually(seconds: 40) {
            expected.isSubset(of: Set(subscriber.requests(to: "/all").dropFirst(before).compactMap(\.eventID)))
        }, "\(sluice.standardError)")
        #expect(!subscriber.requests(to: "/typed").contains { $0.eventID?.hasPrefix("down") == true }, "type c does not match typed")
    }

    @Test("two and three processes split the partitions; when one is killed the others deliver everything any accepted",
          arguments: [2, 3])
    func severalProcesses(count: Int) throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 4)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber, onlyAll: true)])
        var processes: [SluiceProcess] = []
        defer { for process in processes { process.stop() } }
        for _ in 0..<count {
            let process = try SluiceProcess.serve(config: config, memory: true)
            processes.append(process)
            #expect(eventually(seconds: 30) { process.standardError.contains("partitions assigned") }, "\(process.standardError)")
        }
        // Each join rebalances the group; in the end every process holds some of the four partitions.
        let holds = { (process: SluiceProcess) in
            process.standardError.components(separatedBy: "\n").last { $0.contains("partitions assigned") }?.contains("knative-broker-demo-default/") == true
        }
        #expect(eventually(seconds: 30) { processes.allSatisfy(holds) }, "\(processes.map(\.standardError).joined(separator: "\n---\n"))")
        // The joins may go on rebalancing the group for a while: a partition's start was
        // committed before the first process joined, so every owner starts there.
        let senders = processes.map { EventSender(port: $0.ingressPort) }
        var accepted: Set<String> = []
        for index in 0..<100 where try senders[index % count].send("/demo/default", id: "one-\(index)").status == 202 {
            accepted.insert("one-\(index)")
        }
        #expect(accepted.count == 100)
        #expect(eventually(seconds: 20) { accepted.isSubset(of: Set(subscriber.requests(to: "/all").compactMap(\.eventID))) },
                "\(processes.map(\.standardError).joined(separator: "\n---\n"))")

        // Slow answers keep deliveries in flight when the last process is killed.
        subscriber.answer { _, _ in .after(seconds: 0.02, .status(200)) }
        let victim = processes[count - 1]
        for index in 0..<100 where (try? senders[index % count].send("/demo/default", id: "two-\(index)").status) == 202 {
            accepted.insert("two-\(index)")
            if index == 60 { victim.signal(SIGKILL) }
        }
        _ = victim.waitForExit()
        #expect(accepted.count >= 160, "the survivors and the victim until its death took events")
        let delivered = { Set(subscriber.requests(to: "/all").compactMap(\.eventID)) }
        #expect(eventually(seconds: 40) { accepted.isSubset(of: delivered()) },
                "lost \(accepted.subtracting(delivered()).sorted())\n\(processes[0].standardError)")
        let ids = subscriber.requests(to: "/all").compactMap(\.eventID)
        print("Kafka-class broker, \(count) processes: \(accepted.count) accepted, \(ids.count) deliveries, \(ids.count - Set(ids).count) duplicates")
    }

    @Test("a new trigger's start is committed before its first member joins: a member killed at once leaves its successor no gap")
    func startCommittedBeforeJoining() throws {
        let topic = "knative-broker-demo-default"
        let cluster = try KafkaCluster(topics: [(topic, 2)])
        // In the topic before the trigger exists: never owed to it.
        try cluster.produce((0..<4).map { KafkaCluster.Record(value: "{\"old\":\($0)}") }, topic: topic)
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber, onlyAll: true)])
        let first = try SluiceProcess.serve(config: config, memory: true)
        defer { first.stop() }
        #expect(eventually(seconds: 30) { first.standardError.contains("partitions assigned") }, "\(first.standardError)")
        // Killed before its first periodic commit: only the start committed before joining says
        // where the group begins.
        first.signal(SIGKILL)
        _ = first.waitForExit()
        #expect(first.standardError.contains("consumer group starts at the end of its topics"), "\(first.standardError)")
        let owed = (0..<6).map { "owed-\($0)" }
        try cluster.produce(owed.map { id in
            KafkaCluster.Record(value: "{}", headers: [("ce_specversion", "1.0"), ("ce_id", id), ("ce_type", "a"), ("ce_source", "/test")])
        }, topic: topic)
        let second = try SluiceProcess.serve(config: config, memory: true)
        defer { second.stop() }
        #expect(eventually(seconds: 40) { Set(owed).isSubset(of: Set(subscriber.requests(to: "/all").compactMap(\.eventID))) },
                "\(second.standardError)")
        #expect(!subscriber.requests(to: "/all").contains { $0.eventID?.hasPrefix("partition:") == true }, "records older than the trigger stay undelivered")
    }

    @Test("a cluster that goes away: 503 with Retry-After and /readyz says why; 202 again once it is back")
    func clusterDownAndBack() throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber, onlyAll: true)])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/demo/default").status == 202)
        try cluster.setBroker(1, up: false)
        var refused: EventSender.Response?
        #expect(eventually(seconds: 15) {
            refused = try? sender.send("/demo/default")
            return refused?.status == 503
        }, "\(sluice.standardError)")
        #expect(refused?.header("retry-after") != nil)
        #expect(eventually(seconds: 15) { (try? get(port: sluice.ingressPort, path: "/readyz"))?.1.contains("Broker demo/default: Kafka at") == true })
        try cluster.setBroker(1, up: true)
        #expect(eventually(seconds: 20) { (try? sender.send("/demo/default").status) == 202 }, "\(sluice.standardError)")
        #expect(eventually(seconds: 10) { (try? get(port: sluice.ingressPort, path: "/readyz"))?.0 == 200 })
    }

    @Test("a reload that makes a broker Kafka-class moves its events to the topic")
    func reloadChangesClass() throws {
        let cluster = try KafkaCluster(topics: [("knative-broker-demo-default", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let kafka = KafkaManifests.kafkaBroker(bootstrap: cluster.bootstrap, subscriber: subscriber, onlyAll: true)
        let local = kafka.replacingOccurrences(of: "broker.class: Kafka", with: "broker.class: MTChannelBasedBroker")
        let config = try manifestDirectory(["all.yaml": local])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/demo/default", id: "local").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/all").contains { $0.eventID == "local" } })

        try kafka.write(toFile: config + "/all.yaml", atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(KafkaManifests.waitForAssignment(sluice, triggers: ["demo/all"]), "\(sluice.standardError)")
        #expect(sluice.standardError.contains("its class or Kafka settings changed"))
        #expect(try sender.send("/demo/default", id: "kafka").status == 202)
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/all").contains { $0.eventID == "kafka" } }, "\(sluice.standardError)")
        #expect(try cluster.consume(topic: "knative-broker-demo-default").count == 1, "the event went through the topic")
    }
}

/// KafkaChannels on the mock cluster: the channel's events in Knative's topic, each
/// subscription a consumer group.
@Suite("KafkaChannel", .serialized)
struct KafkaChannelTests {
    /// Knative's `kafka-channel-config`, naming the mock cluster.
    private func channelConfig(_ cluster: KafkaCluster) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: kafka-channel-config, namespace: knative-eventing}
        data: {bootstrap.servers: "\(cluster.bootstrap)"}
        """
    }

    @Test("a KafkaChannel fans out to two subscriptions, one failing into its dead-letter sink")
    func fanOutWithDeadLetter() throws {
        let cluster = try KafkaCluster(topics: [("knative-messaging-kafka.demo.orders", 2)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/failing" ? .status(500) : .status(200) }
        let s = subscriber
        let yaml = """
            \(channelConfig(cluster))
            ---
            apiVersion: messaging.knative.dev/v1beta1
            kind: KafkaChannel
            metadata: {name: orders, namespace: demo}
            spec: {numPartitions: 2, replicationFactor: 1}
            ---
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata: {name: ok, namespace: demo}
            spec:
              channel: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: orders}
              subscriber: {uri: "\(s.url("/ok"))"}
            ---
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata: {name: failing, namespace: demo}
            spec:
              channel: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, name: orders}
              subscriber: {uri: "\(s.url("/failing"))"}
              delivery:
                retry: 1
                backoffDelay: PT0.05S
                deadLetterSink: {uri: "\(s.url("/dls"))"}
            """
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]), memory: true)
        defer { sluice.stop() }
        #expect(eventually(seconds: 30) { sluice.standardError.components(separatedBy: "partitions assigned").count > 2 }, "\(sluice.standardError)")
        #expect(sluice.standardError.contains("trigger=subscription:demo/ok"))
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<5 {
            #expect(try sender.send("/channels/demo/orders", id: "k\(index)").status == 202)
        }
        let expected = Set((0..<5).map { "k\($0)" })
        #expect(eventually(seconds: 20) {
            Set(subscriber.requests(to: "/ok").compactMap(\.eventID)) == expected && Set(subscriber.requests(to: "/dls").compactMap(\.eventID)) == expected
        }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/failing").count == 10, "one try and one retry each")
        #expect(try cluster.consume(topic: "knative-messaging-kafka.demo.orders").count == 5)
    }

    @Test("a Sequence on KafkaChannels runs its steps in order through their topics")
    func sequenceOnKafkaChannels() throws {
        let cluster = try KafkaCluster(topics: [("knative-messaging-kafka.demo.seq-kn-sequence-0", 1), ("knative-messaging-kafka.demo.seq-kn-sequence-1", 1)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in
            request.path.hasPrefix("/step") ? .reply(to: request, type: (request.header("ce-type") ?? "") + "+" + request.path.dropFirst()) : .status(200)
        }
        let s = subscriber
        let yaml = """
            \(channelConfig(cluster))
            ---
            apiVersion: flows.knative.dev/v1
            kind: Sequence
            metadata: {name: seq, namespace: demo}
            spec:
              channelTemplate: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel}
              steps:
                - uri: \(s.url("/step1"))
                - uri: \(s.url("/step2"))
              reply: {uri: "\(s.url("/done"))"}
            """
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]), memory: true)
        defer { sluice.stop() }
        #expect(eventually(seconds: 30) { sluice.standardError.components(separatedBy: "partitions assigned").count > 2 }, "\(sluice.standardError)")
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/", id: "s1", type: "start", host: "seq-kn-sequence-0-kn-channel.demo.svc.cluster.local").status == 202)
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/done").count == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/done").first?.header("ce-type") == "start+step1+step2")
        #expect(try cluster.consume(topic: "knative-messaging-kafka.demo.seq-kn-sequence-1").count == 1, "the first step's reply went through Kafka")
    }
}
