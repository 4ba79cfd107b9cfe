import Foundation
import SluiceTestSupport
import Testing

/// KafkaSink end to end: events POSTed to `/sinks/<ns>/<name>` are in the topic, readable with
/// kcat, as soon as Sluice answers 202.
@Suite("KafkaSink", .serialized)
struct KafkaSinkTests {
    @Test("binary and structured records are readable with kcat right after the 202")
    func contentModes() throws {
        let cluster = try KafkaCluster(topics: [("bin", 1), ("json", 1)])
        let config = try manifestDirectory(["sinks.yaml": KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "bin", name: "bin") + "\n---\n"
                + KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "json", name: "json", mode: "structured")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        let sender = EventSender(port: sluice.ingressPort)
        let binary = try sender.send("/sinks/demo/bin", id: "e1", type: "t.one", extensions: ["partitionkey": "order-7"], data: #"{"n":1}"#)
        #expect(binary.status == 202, "\(binary.body)")
        let records = try cluster.consume(topic: "bin")
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record["key"] as? String == "order-7")
        #expect(record["payload"] as? String == #"{"n":1}"#)
        let headers = record["headers"] as? [String] ?? []
        let pairs = Dictionary(stride(from: 0, to: headers.count - 1, by: 2).map { (headers[$0], headers[$0 + 1]) }) { first, _ in first }
        #expect(pairs["ce_id"] == "e1" && pairs["ce_type"] == "t.one" && pairs["ce_specversion"] == "1.0")
        #expect(pairs["content-type"] == "application/json")

        let structured = try sender.send("/sinks/demo/json", id: "e2", type: "t.two", data: #"{"n":2}"#)
        #expect(structured.status == 202)
        let json = try #require(try cluster.consume(topic: "json").first)
        let value = try #require((json["payload"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(value["id"] as? String == "e2" && value["type"] as? String == "t.two")
        #expect((value["data"] as? [String: Any])?["n"] as? Int == 2)
        let jsonHeaders = json["headers"] as? [String] ?? []
        #expect(jsonHeaders.starts(with: ["content-type", "application/cloudevents+json"]))
        _ = sluice
    }

    @Test("with --oidc a KafkaSink takes events only with a token for its audience")
    func senderIdentity() async throws {
        let cluster = try KafkaCluster(topics: [("secured", 1)])
        let directory = temporaryDirectory("oidc")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let issuer = try await TestIssuer(directory: directory)
        let config = try manifestDirectory(["sink.yaml": KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "secured", name: "secured")])
        let sluice = try SluiceProcess.serve(config: config, memory: true, extra: issuer.serveArguments)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        let good = try await issuer.token(audience: "eventing.knative.dev/kafkasink/demo/secured")
        let wrong = try await issuer.token(audience: "eventing.knative.dev/broker/demo/secured")
        #expect(try sender.send("/sinks/demo/secured", id: "in", headers: [("Authorization", "Bearer \(good)")]).status == 202)
        #expect(try sender.send("/sinks/demo/secured", id: "out", headers: [("Authorization", "Bearer \(wrong)")]).status == 401)
        #expect(try sender.send("/sinks/demo/secured", id: "none").status == 401)
        let records = try cluster.consume(topic: "secured")
        #expect(records.count == 1, "only the event with the right token was produced")
    }

    @Test("bad requests produce nothing: 400 for an invalid event, 404 for an unknown sink, 405 for GET")
    func badRequests() throws {
        let cluster = try KafkaCluster(topics: [("bin", 1)])
        let config = try manifestDirectory(["sinks.yaml": KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "bin")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        let sender = EventSender(port: sluice.ingressPort)
        let missingID = try sender.post("/sinks/demo/out", headers: [("ce-specversion", "1.0"), ("ce-type", "t"), ("ce-source", "/s")], body: [])
        #expect(missingID.status == 400 && missingID.body.contains("id"))
        #expect(try sender.send("/sinks/demo/missing").status == 404)
        #expect(try sender.post("/sinks/demo/out", method: "GET", headers: [], body: []).status == 405)
        #expect(try sender.send("/sinks/demo/out", id: "ok").status == 202)
        let records = try cluster.consume(topic: "bin")
        #expect(records.count == 1, "only the valid event is in the topic: \(records)")
    }

    @Test("Kafka unreachable at start-up: 503 with Retry-After at once, /readyz says why")
    func unreachable() throws {
        // A port nothing listens on.
        let config = try manifestDirectory(["sinks.yaml": KafkaManifests.sink(bootstrap: "127.0.0.1:9", topic: "bin")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        let sender = EventSender(port: sluice.ingressPort)
        let started = Date()
        let answer = try sender.send("/sinks/demo/out")
        #expect(answer.status == 503 && answer.header("Retry-After") != nil, "\(answer.status) \(answer.body)")
        #expect(Date().timeIntervalSince(started) < 12)
        #expect(eventually(seconds: 10) {
            let ready = try? get(port: sluice.ingressPort, path: "/readyz")
            return ready?.0 == 503 && ready?.1.contains("KafkaSink demo/out") == true
        })
        // Refused at once now that the cluster is known to be down.
        let again = Date()
        #expect(try sender.send("/sinks/demo/out").status == 503)
        #expect(Date().timeIntervalSince(again) < 2)
    }

    @Test("a cluster that goes away gives 503 within seconds, and 202 again once it is back")
    func clusterDownAndBack() throws {
        let cluster = try KafkaCluster(topics: [("bin", 1)])
        let config = try manifestDirectory(["sinks.yaml": KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "bin")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/sinks/demo/out").status == 202)
        try cluster.setBroker(1, up: false)
        let started = Date()
        #expect(eventually(seconds: 15) { (try? sender.send("/sinks/demo/out").status) == 503 }, "\(sluice.standardError)")
        #expect(Date().timeIntervalSince(started) < 12)
        try cluster.setBroker(1, up: true)
        #expect(eventually(seconds: 20) { (try? sender.send("/sinks/demo/out").status) == 202 }, "\(sluice.standardError)")
        #expect(try get(port: sluice.ingressPort, path: "/readyz").0 == 200)
    }

    @Test("a trigger whose subscriber is a KafkaSink writes to the topic in process")
    func triggerToKafkaSink() throws {
        let cluster = try KafkaCluster(topics: [("out", 1)])
        let manifests = """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: demo}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: to-kafka, namespace: demo}
        spec:
          broker: default
          subscriber:
            ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: KafkaSink, name: out}
        ---

        """ + KafkaManifests.sink(bootstrap: cluster.bootstrap, topic: "out")
        let config = try manifestDirectory(["all.yaml": manifests])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(try EventSender(port: sluice.ingressPort).send("/demo/default", id: "via-broker").status == 202)
        var records: [[String: Any]] = []
        #expect(eventually(seconds: 15) {
            records = (try? cluster.consume(topic: "out")) ?? []
            return !records.isEmpty
        }, "\(sluice.standardError)")
        let headers = records.first?["headers"] as? [String] ?? []
        #expect(headers.contains("via-broker"))
        #expect(!headers.contains("ce_knativebrokerttl"))
    }
}
