import Foundation
import SluiceTestSupport
import Testing

@Suite("metrics and delivery logs, end to end", .serialized)
struct MetricsTests {
    private func scrape(_ sluice: SluiceProcess) throws -> String {
        let response = try EventSender(port: sluice.metricsPort).post("/metrics", method: "GET", headers: [], body: [])
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        return response.body
    }

    @Test func knativeNamesAndLabelsAfterAFewEvents() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/fail" ? .status(500) : .status(200) }
        let delivery = "retry: 1\nbackoffDelay: PT0.01S\ndeadLetterSink:\n  uri: \(subscriber.url("/dls"))\n"
        let directory = try manifestDirectory(["a.yaml": Manifest.broker("ns", "br")
            + Manifest.trigger("ns", "ok", broker: "br", subscriber: subscriber.url("/ok"))
            + Manifest.trigger("ns", "failing", broker: "br", subscriber: subscriber.url("/fail"), delivery: delivery)])
        let sluice = try SluiceProcess.serve(config: directory)
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<3 { #expect(try sender.send("/ns/br", id: "e\(index)", type: "com.example.order").status == 202) }
        #expect(eventually { subscriber.requests(to: "/dls").count == 3 && subscriber.requests(to: "/ok").count == 3 })
        let text = try scrape(sluice)
        let okLabels = #"kn_broker_name="br",kn_broker_namespace="ns",kn_trigger_name="ok",cloudevents_type="com.example.order""#
        #expect(text.contains("# TYPE kn_eventing_dispatch_duration_seconds histogram"))
        #expect(text.contains(#"kn_eventing_dispatch_duration_seconds_count{\#(okLabels),http_response_status_code="200"} 3"#), "\(text)")
        #expect(text.contains(#"kn_trigger_name="failing",cloudevents_type="com.example.order",http_response_status_code="500"} 6"#),
                "each attempt is recorded with its status")
        #expect(text.contains(#"kn_eventing_process_duration_seconds_count{\#(okLabels)} 3"#))
        #expect(text.contains(#"kn_eventing_dispatch_duration_seconds_count{kn_broker_name="br",kn_broker_namespace="ns",cloudevents_type="com.example.order",http_response_status_code="202"} 3"#),
                "ingress requests, by status")
        #expect(text.contains(#"sluice_trigger_events_dead_lettered_total{kn_broker_name="br",kn_broker_namespace="ns",kn_trigger_name="failing"} 3"#))
        #expect(text.contains(#"sluice_trigger_retries_total{kn_broker_name="br",kn_broker_namespace="ns",kn_trigger_name="failing"} 3"#))
        #expect(text.contains(#"sluice_broker_events_accepted_total{kn_broker_name="br",kn_broker_namespace="ns"} 3"#))
        #expect(text.contains(#"sluice_trigger_queue_depth{kn_broker_name="br",kn_broker_namespace="ns",kn_trigger_name="ok"} 0"#))
        #expect(text.contains("sluice_storage_syncs_total{"), "the disk store's figures")
        #expect(text.contains("process_resident_memory_bytes "))

        // The dead letters are logged, rate-limited: one line for three events.
        let lines = sluice.standardError.components(separatedBy: "\n").filter { $0.contains("sent to the dead-letter sink") }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains("trigger=failing") == true && lines.first?.contains("namespace=ns") == true)

        // A trigger removed by a reload takes its series with it.
        try (Manifest.broker("ns", "br") + Manifest.trigger("ns", "ok", broker: "br", subscriber: subscriber.url("/ok")))
            .write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(eventually { sluice.standardError.contains("configuration reloaded") })
        let after = try scrape(sluice)
        #expect(!after.contains(#"kn_trigger_name="failing""#))
        #expect(after.contains(#"kn_trigger_name="ok""#))
    }

    @Test func theEventTypeLabelCanBeSwitchedOffAndLogsCanBeJSON() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let directory = try manifestDirectory(["a.yaml": Manifest.broker("ns", "br")
            + Manifest.trigger("ns", "t", broker: "br", subscriber: "http://127.0.0.1:1/unreachable",
                               delivery: "retry: 0\n")])
        let sluice = try SluiceProcess.serve(config: directory, extra: ["--disable-metrics-event-type", "--log-format", "json"])
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/ns/br", id: "lost", type: "com.example.secret").status == 202)
        #expect(eventually { sluice.standardError.contains("event dropped") })
        let text = try scrape(sluice)
        #expect(!text.contains("com.example.secret"))
        #expect(text.contains(#"kn_eventing_dispatch_duration_seconds_count{kn_broker_name="br",kn_broker_namespace="ns",kn_trigger_name="t",http_response_status_code="500"} 1"#))
        let dropped = try #require(sluice.standardError.components(separatedBy: "\n").first { $0.contains("event dropped") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(dropped.utf8)) as? [String: String])
        #expect(object["level"] == "warning")
        #expect(object["trigger"] == "t" && object["id"] == "lost" && object["namespace"] == "ns")
        #expect(sluice.standardError.contains(#""message":"subscriber unreachable"#))
    }
}
