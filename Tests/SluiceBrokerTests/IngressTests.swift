import Foundation
import SluiceTestSupport
import Testing

@Suite("broker ingress, end to end", .serialized)
struct IngressTests {
    @Test func answersAsKnativeBrokerIngressDoes() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["broker.yaml": Manifest.broker("demo", "default")
            + Manifest.trigger("demo", "all", subscriber: subscriber.url("/all"))])
        let sluice = try SluiceProcess.serve(config: config, extra: ["--max-body-bytes", "40000"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)

        let accepted = try sender.send("/demo/default")
        #expect(accepted.status == 202)
        #expect(accepted.header("Allow") == "POST, OPTIONS")

        let options = try sender.post("/demo/default", method: "OPTIONS", headers: [], body: [])
        #expect(options.status == 200)
        #expect(options.header("Allow") == "POST, OPTIONS")
        #expect(options.header("WebHook-Allowed-Origin") == "*")

        for method in ["GET", "PUT", "DELETE", "PATCH"] {
            #expect(try sender.post("/demo/default", method: method, headers: [], body: []).status == 405, "\(method)")
        }
        let unknown = try sender.send("/demo/missing")
        #expect(unknown.status == 404)
        #expect(unknown.body.contains("demo/missing"))
        #expect(try sender.send("/").status == 404)
        #expect(try sender.send("/demo").status == 400)
        #expect(try sender.send("/demo/default/extra").status == 400)

        let missing = try sender.post("/demo/default", headers: [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s")], body: [])
        #expect(missing.status == 400)
        #expect(missing.body.contains("missing required attribute type"))
        let badVersion = try sender.post("/demo/default", headers: [("ce-specversion", "2.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")], body: [])
        #expect(badVersion.status == 400)
        #expect(badVersion.body.contains("specversion"))
        let notAnEvent = try sender.post("/demo/default", headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(notAnEvent.status == 400)

        let tooLarge = try sender.send("/demo/default", data: String(repeating: "x", count: 50_000))
        #expect(tooLarge.status == 413)
        let unsupported = try sender.post("/demo/default", headers: [("Content-Type", "application/cloudevents+avro")], body: Array("x".utf8))
        #expect(unsupported.status == 415)
    }

    @Test("invalid events get 400 with the reason", arguments: [
        ([("ce-My-Ext", "x")], "my-ext"),
        ([("ce-time", "yesterday")], "time"),
        ([("ce-source", "not a uri")], "source"),
        ([("ce-dataschema", "relative/path")], "dataschema"),
        ([("ce-data", "x")], "data"),
        ([("ce-id", "")], "id"),
    ] as [([(String, String)], String)])
    func invalidBinaryEvents(extra: [(String, String)], mention: String) throws {
        let config = try manifestDirectory(["broker.yaml": Manifest.broker("demo", "default")])
        let sluice = try SluiceProcess.serve(config: config)
        defer { sluice.stop() }
        var headers: [(String, String)] = [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")]
        for (name, value) in extra {
            headers.removeAll { $0.0.lowercased() == name.lowercased() }
            headers.append((name, value))
        }
        let response = try EventSender(port: sluice.ingressPort).post("/demo/default", headers: headers, body: [])
        #expect(response.status == 400)
        #expect(response.body.contains(mention), "\(response.body)")
    }

    @Test func fullBrokerAnswers503WithRetryAfter() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { _, _ in .after(seconds: 5, .status(200)) }
        let config = try manifestDirectory(["broker.yaml": Manifest.broker("demo", "default")
            + Manifest.trigger("demo", "slow", subscriber: subscriber.url("/slow"))])
        // In memory a trigger's bound is the broker's (on disk the rest waits in the log).
        let sluice = try SluiceProcess.serve(config: config, memory: true, extra: ["--max-events-per-trigger", "3"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        let statuses = try (0..<6).map { _ in try sender.send("/demo/default").status }
        #expect(statuses.prefix(3).allSatisfy { $0 == 202 })
        let refused = try sender.send("/demo/default")
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") == "1")
        #expect(statuses.suffix(3).allSatisfy { $0 == 503 })
    }

    @Test func everyModeAndVersionIsDeliveredInBinaryMode() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["broker.yaml": Manifest.broker("demo", "default")
            + Manifest.trigger("demo", "all", subscriber: subscriber.url("/all"))])
        let sluice = try SluiceProcess.serve(config: config)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)

        let large = String(repeating: "0123456789abcdef", count: 36 * 64)  // 36 KiB
        #expect(try sender.send("/demo/default", id: "binary-1.0", data: "\"\(large)\"").status == 202)
        #expect(try sender.post("/demo/default", headers: [("ce-specversion", "0.3"), ("ce-id", "binary-0.3"), ("ce-source", "/s"),
                                                           ("ce-type", "t"), ("ce-schemaurl", "/schema")], body: []).status == 202)
        let structured = #"{"specversion":"1.0","id":"structured","source":"/s","type":"t","count":3,"datacontenttype":"application/json","data":{"k":"v"}}"#
        #expect(try sender.post("/demo/default", headers: [("Content-Type", "application/cloudevents+json")], body: Array(structured.utf8)).status == 202)
        let batch = """
            [{"specversion":"1.0","id":"batch-1","source":"/s","type":"t"},
             {"specversion":"1.0","id":"batch-2","source":"/s","type":"t","data_base64":"AAEC"}]
            """
        #expect(try sender.post("/demo/default", headers: [("Content-Type", "application/cloudevents-batch+json")], body: Array(batch.utf8)).status == 202)
        let badBatch = #"[{"specversion":"1.0","id":"ok","source":"/s","type":"t"},{"specversion":"1.0","id":"bad","source":"/s"}]"#
        #expect(try sender.post("/demo/default", headers: [("Content-Type", "application/cloudevents-batch+json")], body: Array(badBatch.utf8)).status == 400)

        #expect(eventually { subscriber.requests.count == 5 })
        let byID = Dictionary(subscriber.requests.map { ($0.eventID ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        #expect(Set(byID.keys) == ["binary-1.0", "binary-0.3", "structured", "batch-1", "batch-2"])
        #expect(byID["binary-1.0"]?.bodyText == "\"\(large)\"")
        #expect(byID["binary-0.3"]?.header("ce-specversion") == "0.3")
        #expect(byID["binary-0.3"]?.header("ce-schemaurl") == "/schema")
        #expect(byID["structured"]?.bodyText == #"{"k":"v"}"#)
        #expect(byID["structured"]?.header("ce-count") == "3")
        #expect(byID["structured"]?.header("Content-Type") == "application/json")
        #expect(byID["batch-2"]?.body == [0, 1, 2])
        for request in subscriber.requests {
            #expect(request.header("ce-knativearrivaltime") != nil)
            #expect(request.header("ce-knativebrokerttl") == nil, "the TTL is hidden from subscribers")
        }
    }
}
