import CoreMetrics
import Logging
import SluiceObservability
import Synchronization
import Testing

private func text(_ exporter: PrometheusExporter) -> String {
    String(decoding: exporter.render(), as: UTF8.self)
}

@Suite("Metrics and logs")
struct ObservabilityTests {
    @Test func timerFamilyLabelsByTypeAndStatusAndRendersKnativeNames() {
        let exporter = PrometheusExporter()
        let family = TimerFamily(label: MetricNames.dispatchDuration, dimensions: [(LabelNames.brokerName, "b")],
                                 factory: exporter.factory, options: MetricsOptions(), shards: 2)
        Array("com.example.a".utf8).withUnsafeBytes { type in
            family.record(shard: 0, type: type, status: 200, nanoseconds: 3_000_000)
            family.record(shard: 1, type: type, status: 200, nanoseconds: 30_000_000)
            family.record(shard: 0, type: type, status: 500, nanoseconds: 1_000_000)
        }
        let output = text(exporter)
        #expect(output.contains("# TYPE kn_eventing_dispatch_duration_seconds histogram"))
        #expect(output.contains(#"kn_eventing_dispatch_duration_seconds_count{kn_broker_name="b",cloudevents_type="com.example.a",http_response_status_code="200"} 2"#),
                "both loops record into one series")
        #expect(output.contains(#"kn_eventing_dispatch_duration_seconds_bucket{kn_broker_name="b",cloudevents_type="com.example.a",http_response_status_code="200",le="0.005"} 1"#),
                "Knative's first bucket is 5 ms")
        #expect(output.contains(#"http_response_status_code="500"} 1"#))
        family.destroy()
        #expect(!text(exporter).contains("com.example.a"), "destroyed timers leave the registry")
    }

    @Test func eventTypesAreBoundedAndCanBeSwitchedOff() {
        let exporter = PrometheusExporter()
        let bounded = TimerFamily(label: "bounded_seconds", dimensions: [("k", "v")], factory: exporter.factory,
                                  options: MetricsOptions(maxEventTypes: 3), shards: 1)
        for index in 0..<10 {
            Array("type-\(index)".utf8).withUnsafeBytes { bounded.record(shard: 0, type: $0, status: 202, nanoseconds: 1000) }
        }
        let output = text(exporter)
        #expect(output.contains(#"cloudevents_type="type-2""#))
        #expect(!output.contains(#"cloudevents_type="type-3""#))
        #expect(output.contains(#"bounded_seconds_count{k="v",cloudevents_type="other",http_response_status_code="202"} 7"#))

        let untyped = TimerFamily(label: "untyped_seconds", dimensions: [("k", "v")], factory: exporter.factory,
                                  options: MetricsOptions(labelsEventType: false), shards: 1)
        Array("secret.type".utf8).withUnsafeBytes { untyped.record(shard: 0, type: $0, status: nil, nanoseconds: 1000) }
        #expect(text(exporter).contains(#"untyped_seconds_count{k="v"} 1"#))
    }

    @Test func labelValuesAreEscapedAndSeriesSumAcrossLoops() {
        let exporter = PrometheusExporter()
        let family = TimerFamily(label: "escaped_seconds", dimensions: [("name", "a\"b\\c\nd")], factory: exporter.factory,
                                 options: MetricsOptions(labelsEventType: false), shards: 3)
        family.record(shard: 0, type: nil, status: 200, nanoseconds: 1_000_000)      // 1 ms: the 5 ms bucket
        family.record(shard: 1, type: nil, status: 200, nanoseconds: 700_000_000)    // 0.7 s: the 1 s bucket
        family.record(shard: 2, type: nil, status: 200, nanoseconds: 20_000_000_000) // 20 s: only +Inf
        let output = text(exporter)
        let labels = #"name="a\"b\\c\nd",http_response_status_code="200""#
        #expect(output.contains("escaped_seconds_bucket{\(labels),le=\"0.005\"} 1"), "\(output)")
        #expect(output.contains("escaped_seconds_bucket{\(labels),le=\"0.5\"} 1"))
        #expect(output.contains("escaped_seconds_bucket{\(labels),le=\"1.0\"} 2"))
        #expect(output.contains("escaped_seconds_bucket{\(labels),le=\"10.0\"} 2"))
        #expect(output.contains("escaped_seconds_bucket{\(labels),le=\"+Inf\"} 3"))
        #expect(output.contains("escaped_seconds_count{\(labels)} 3"))
        #expect(output.contains("escaped_seconds_sum{\(labels)} 20.701"))
    }

    @Test func counterFeedAddsWhatTheTotalGrewBy() {
        let exporter = PrometheusExporter()
        let feed = CounterFeed(label: "fed_total", dimensions: [("k", "v")], factory: exporter.factory)
        feed.update(total: 5)
        feed.update(total: 5)
        feed.update(total: 12)
        #expect(text(exporter).contains(#"fed_total{k="v"} 12"#))
    }

    @Test func jsonLogLinesAreOneEscapedObjectEach() throws {
        let lines = LockedLines()
        var logger = Logger(label: "sluice.test") { label in JSONLogHandler(label: label) { lines.append($0) } }
        logger.logLevel = .info
        logger.warning("event dropped: \"quoted\"\nsecond line", metadata: ["trigger": "t1", "id": "42"])
        logger.debug("not written")
        let written = lines.all
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        #expect(line.contains(#""level":"warning","logger":"sluice.test","message":"event dropped: \"quoted\"\nsecond line","id":"42","trigger":"t1"}"#))
        #expect(line.hasPrefix(#"{"time":""#) && line.contains("Z\",\"level\""))
    }
}

/// Lines a log handler wrote, collected across threads.
final class LockedLines: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ bytes: [UInt8]) { lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
    var all: [String] { lines.withLock { $0 } }
}
