import Foundation
import SluiceTestSupport
import Testing

/// PingSource end to end: a real process firing on the real clock.
@Suite("PingSource, end to end", .serialized)
struct PingSourceTests {
    @Test func anEverySecondSourceFeedsASubscriberAndABroker() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let s = subscriber
        let yaml = """
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: heartbeat, namespace: ops}
            spec:
              schedule: "@every 1s"
              contentType: text/plain
              data: beat
              ceOverrides: {extensions: {team: ops}}
              sink: {uri: "\(s.url("/direct"))"}
            ---
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: binary, namespace: ops}
            spec:
              schedule: "@every 1s"
              dataBase64: "AAEC"
              sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
            ---
            \(Manifest.broker("ops", "default"))
            \(Manifest.trigger("ops", "pings", subscriber: s.url("/via-broker"), filter: ["type": "dev.knative.sources.ping"]))
            """
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        #expect(eventually(seconds: 10) { subscriber.requests(to: "/direct").count >= 2 && subscriber.requests(to: "/via-broker").count >= 2 })
        let direct = try #require(subscriber.requests(to: "/direct").first)
        #expect(direct.header("ce-type") == "dev.knative.sources.ping")
        #expect(direct.header("ce-source") == "/apis/v1/namespaces/ops/pingsources/heartbeat")
        #expect(direct.header("content-type") == "text/plain")
        #expect(direct.header("ce-team") == "ops")
        #expect(direct.bodyText == "beat")
        let time = try #require(direct.header("ce-time"))
        #expect(time.hasSuffix(".000Z"), "the scheduled time, a whole second: \(time)")
        let viaBroker = try #require(subscriber.requests(to: "/via-broker").first)
        #expect(viaBroker.body == [0, 1, 2])
        #expect(viaBroker.header("ce-source") == "/apis/v1/namespaces/ops/pingsources/binary")
        let ids = subscriber.requests(to: "/direct").compactMap(\.eventID)
        #expect(Set(ids).count == ids.count, "a fresh id per tick")
    }
}
