import Foundation
import SluiceTestSupport
import Testing

/// KafkaSource end to end: a real Sluice process consuming from librdkafka's mock cluster over
/// TCP, delivering to a real HTTP subscriber, with records produced by kcat.
@Suite("KafkaSource", .serialized)
struct KafkaSourceTests {
    @Test("binary, structured and plain records reach the trigger as CloudEvents")
    func everyKindOfRecord() throws {
        let cluster = try KafkaCluster(topics: [("in", 2)])
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/s")) + "\n---\n"
                + KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in", extra: "  ceOverrides: {extensions: {team: blue}}")])
        let sluice = try SluiceProcess.serve(config: config)
        try cluster.produce([
            .init(key: "k1", value: "plain text", headers: [("Color", "red")]),
            .init(value: #"{"a":1}"#, headers: [("ce_specversion", "1.0"), ("ce_id", "b1"), ("ce_source", "/bin"), ("ce_type", "t.binary"),
                                                 ("content-type", "application/json")]),
            .init(value: #"{"specversion":"1.0","id":"s1","source":"/st","type":"t.structured","data":{"b":2}}"#,
                  headers: [("content-type", "application/cloudevents+json")]),
        ], topic: "in", partition: 0)
        #expect(eventually(seconds: 20) { subscriber.requests.count >= 3 }, "\(sluice.standardError)")
        let byType = Dictionary(subscriber.requests.map { ($0.header("ce-type") ?? "", $0) }) { first, _ in first }
        let wrapped = try #require(byType["dev.knative.kafka.event"])
        #expect(wrapped.id == "partition:0/offset:0")
        #expect(wrapped.header("ce-source") == "/apis/v1/namespaces/demo/kafkasources/orders#in")
        #expect(wrapped.header("ce-subject") == "partition:0#0")
        #expect(wrapped.header("ce-key") == "k1" && wrapped.header("ce-partitionkey") == "k1")
        #expect(wrapped.header("ce-kafkaheadercolor") == "red")
        #expect(wrapped.header("ce-time") != nil)
        #expect(wrapped.bodyText == "plain text")
        let binary = try #require(byType["t.binary"])
        #expect(binary.id == "b1" && binary.header("content-type") == "application/json" && binary.bodyText == #"{"a":1}"#)
        let structured = try #require(byType["t.structured"])
        #expect(structured.id == "s1" && structured.bodyText == #"{"b":2}"#)
        for request in subscriber.requests { #expect(request.header("ce-team") == "blue") }
        subscriber.stop()
    }

    @Test("the source's own delivery retries, then dead-letters with the error extensions")
    func sourceDeadLetters() throws {
        let cluster = try KafkaCluster(topics: [("in", 1)])
        let subscriber = try Subscriber()
        subscriber.answer { request, _ in request.path == "/fail" ? .status(500, body: "nope") : .status(200) }
        let delivery = """
          delivery:
            retry: 2
            backoffDelay: PT0.01S
            deadLetterSink: {uri: "\(subscriber.url("/dls"))"}
        """
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in",
                                                                              sink: "uri: \"\(subscriber.url("/fail"))\"", extra: delivery)])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce([.init(value: "doomed")], topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/dls").count == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/fail").count == 3)
        let letter = try #require(subscriber.requests(to: "/dls").first)
        #expect(letter.header("ce-knativeerrorcode") == "500")
        #expect(letter.header("ce-knativeerrordest") == subscriber.url("/fail"))
        #expect(letter.bodyText == "doomed")
        subscriber.stop()
    }

    @Test("through a broker, the trigger's delivery retries and dead-letters")
    func triggerDeadLetters() throws {
        let cluster = try KafkaCluster(topics: [("in", 1)])
        let subscriber = try Subscriber()
        subscriber.answer { request, _ in request.path == "/s" ? .status(503) : .status(202) }
        let delivery = """
          delivery:
            retry: 1
            backoffDelay: PT0.01S
            deadLetterSink: {uri: "\(subscriber.url("/dls"))"}
        """
        let config = try manifestDirectory(["all.yaml": TestManifests.brokerAndTrigger(subscriber: subscriber.url("/s"), delivery: delivery)
                + "\n---\n" + KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce([.init(value: "x")], topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/dls").count == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/s").count == 2)
        #expect(subscriber.requests(to: "/dls").first?.header("ce-knativeerrorcode") == "503")
        subscriber.stop()
    }

    @Test("ordered mode delivers a partition's records in offset order, retries included")
    func orderedKeepsOrder() throws {
        let cluster = try KafkaCluster(topics: [("in", 1)])
        let subscriber = try Subscriber()
        // Every event fails its first attempt: an unordered source would interleave.
        subscriber.answer { request, _ in
            subscriber.requests.filter { $0.id == request.id }.count == 1 ? .status(500) : .status(200)
        }
        let delivery = "  delivery: {retry: 3, backoffDelay: PT0.05S}"
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in",
                                                                              sink: "uri: \"\(subscriber.url("/s"))\"", extra: delivery)])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce((0..<8).map { .init(value: "record \($0)") }, topic: "in")
        #expect(eventually(seconds: 30) { subscriber.requests.count >= 16 }, "\(sluice.standardError)")
        let offsets = subscriber.requests.map { Int($0.id.split(separator: ":").last ?? "") ?? -1 }
        #expect(offsets == (0..<8).flatMap { [$0, $0] }, "\(offsets)")
        subscriber.stop()
    }

    @Test("unordered mode keeps several records of a partition in flight")
    func unorderedIsConcurrent() throws {
        let cluster = try KafkaCluster(topics: [("in", 1)])
        let subscriber = try Subscriber()
        subscriber.answer { _, _ in .after(seconds: 0.5, .status(200)) }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in",
                                                                              sink: "uri: \"\(subscriber.url("/s"))\"", ordering: "unordered")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce((0..<10).map { .init(value: "record \($0)") }, topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests.count == 10 }, "\(sluice.standardError)")
        // One at a time would take five seconds between the first request and the last.
        let times = subscriber.requests.map(\.time)
        #expect((times.max() ?? 0) - (times.min() ?? 0) < 2.5, "\(times)")
        subscriber.stop()
    }

    @Test("a record that can never be delivered is dropped and does not stall its partition")
    func poisonDoesNotStall() throws {
        let cluster = try KafkaCluster(topics: [("in", 1)])
        let subscriber = try Subscriber()
        subscriber.answer { request, _ in request.bodyText == "poison" ? .status(400, body: "bad") : .status(200) }
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in",
                                                                              sink: "uri: \"\(subscriber.url("/s"))\"")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        try cluster.produce([.init(value: "first"), .init(value: "poison"), .init(value: "after")], topic: "in")
        #expect(eventually(seconds: 20) { subscriber.requests.contains { $0.bodyText == "after" } }, "\(sluice.standardError)")
        #expect(subscriber.requests.map(\.bodyText) == ["first", "poison", "after"])
        #expect(eventually(seconds: 5) { sluice.standardError.contains("dropped") })
        subscriber.stop()
    }

    @Test("a subscriber down for longer than max.poll.interval.ms: the saturated source pauses, stays in its group, and delivers everything once it is back")
    func saturatedSourceStaysInGroup() throws {
        let cluster = try KafkaCluster(topics: [("in", 2)])
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        // Down for its first 20 s.
        subscriber.answer { request, _ in request.time < 20 ? .status(503) : .status(200) }
        let delivered = { Set(subscriber.requests.filter { $0.time >= 20 }.map(\.bodyText)) }
        let delivery = """
          delivery:
            retry: 1000
            backoffDelay: PT0.2S
            backoffPolicy: linear
        """
        // More records than the consumer holds (256 waiting, 32 in flight), and librdkafka's
        // poll interval shortened to 7 s (its floor is the 6 s session).
        let config = try manifestDirectory(["all.yaml": KafkaManifests.source(bootstrap: cluster.bootstrap, topic: "in", sink: "uri: \"\(subscriber.url("/s"))\"",
                                                                              ordering: "unordered", extra: delivery,
                                                                              consumerProperties: ["max.poll.interval.ms=7000"])])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        defer { sluice.stop() }
        let records = (0..<400).map { "record \($0)" }
        try cluster.produce(records.map { .init(value: $0) }, topic: "in")
        #expect(eventually(seconds: 15) { sluice.standardError.contains("partitions paused, polling on to stay in the group") }, "\(sluice.standardError)")
        #expect(eventually(seconds: 60) { delivered() == Set(records) }, "\(sluice.standardError)")
        #expect(sluice.standardError.contains("partitions resumed"))
        #expect(!sluice.standardError.contains("maximum poll interval"), "the member was taken out of its group:\n\(sluice.standardError)")
        #expect(sluice.standardError.components(separatedBy: "partitions assigned").count == 2, "one assignment, no rebalance")
    }
}
