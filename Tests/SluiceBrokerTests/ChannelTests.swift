import Foundation
import SluiceTestSupport
import Testing

/// Channels, Subscriptions, Sequence and Parallel, end to end through a real process.
@Suite("channels and flows, end to end", .serialized)
struct ChannelTests {
    @Test func aChannelFansOutToEverySubscriptionAndDeadLettersAFailingOne() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/c" ? .status(500) : .status(200) }
        let s = subscriber
        let failing = "retry: 1\nbackoffDelay: PT0.05S\ndeadLetterSink:\n  uri: \(s.url("/dls"))\n"
        var yaml = Manifest.channel("ns", "orders")
        yaml += Manifest.subscription("ns", "a", channel: "orders", subscriber: "uri: \(s.url("/a"))")
        yaml += Manifest.subscription("ns", "b", channel: "orders", subscriber: "uri: \(s.url("/b"))")
        yaml += Manifest.subscription("ns", "c", channel: "orders", subscriber: "uri: \(s.url("/c"))", delivery: failing)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/channels/ns/orders", id: "e1").status == 202)
        #expect(try sender.send("/channels/ns/missing", id: "e2").status == 404)
        #expect(eventually { subscriber.requests(to: "/dls").count == 1 })
        #expect(subscriber.requests(to: "/a").map(\.eventID) == ["e1"])
        #expect(subscriber.requests(to: "/b").map(\.eventID) == ["e1"])
        #expect(subscriber.requests(to: "/c").count == 2, "one try and one retry")
        let dead = try #require(subscriber.requests(to: "/dls").first)
        #expect(dead.eventID == "e1")
        #expect(dead.header("ce-knativeerrorcode") == "500")
        #expect(subscriber.requests(to: "/a").first?.header("kn-namespace") == "ns")
        #expect(subscriber.requests(to: "/a").first?.header("ce-knativebrokerttl") == nil, "channels do not stamp broker TTLs")
    }

    @Test func aSubscriptionReplyGoesIntoABrokerAndTheHostAddressWorks() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/enrich" ? .reply(to: request, type: "enriched") : .status(200) }
        let s = subscriber
        var yaml = Manifest.channel("ns", "raw", kind: "Channel") + Manifest.broker("ns", "default")
        yaml += Manifest.subscription("ns", "enrich", channel: "raw", subscriber: "uri: \(s.url("/enrich"))",
                                      reply: "ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}")
        yaml += Manifest.trigger("ns", "enriched", subscriber: s.url("/enriched"), filter: ["type": "enriched"])
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/", id: "h1", host: "raw-kn-channel.ns.svc.cluster.local").status == 202)
        #expect(try sender.send("/", id: "h2", host: "raw-kn-channel.ns.svc.cluster.local:80").status == 202)
        #expect(try sender.send("/", id: "h3", host: "nope-kn-channel.ns.svc.cluster.local").status == 404)
        #expect(try sender.send("/", id: "h4", host: "127.0.0.1").status == 404)
        #expect(eventually { subscriber.requests(to: "/enriched").count == 2 })
        #expect(Set(subscriber.requests(to: "/enriched").compactMap(\.eventID)) == ["h1", "h2"])
        #expect(subscriber.requests(to: "/enriched").first?.header("ce-type") == "enriched")
    }

    @Test func aSequenceRunsItsStepsInOrderAndRepliesAtTheEnd() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in
            switch request.path {
            case "/step1", "/step2", "/step3": return .reply(to: request, type: (request.header("ce-type") ?? "") + "+" + request.path.dropFirst())
            default: return .status(200)
            }
        }
        let s = subscriber
        let yaml = """
            apiVersion: flows.knative.dev/v1
            kind: Sequence
            metadata: {name: pipeline, namespace: ns}
            spec:
              channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
              steps:
                - uri: \(s.url("/step1"))
                - uri: \(s.url("/step2"))
                - uri: \(s.url("/step3"))
              reply:
                uri: \(s.url("/done"))
            ---
            \(Manifest.broker("ns", "default"))
            \(Manifest.trigger("ns", "into-sequence", subscriber: "unused", filter: ["type": "start"]))
            """.replacingOccurrences(of: "uri: unused", with: "ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: pipeline}")
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/channels/ns/pipeline-kn-sequence-0", id: "q1", type: "start").status == 202)
        #expect(try sender.send("/ns/default", id: "q2", type: "start").status == 202, "a trigger delivers to the Sequence ref")
        #expect(eventually { subscriber.requests(to: "/done").count == 2 })
        let done = subscriber.requests(to: "/done")
        #expect(Set(done.compactMap(\.eventID)) == ["q1", "q2"])
        #expect(done.allSatisfy { $0.header("ce-type") == "start+step1+step2+step3" })
        #expect(subscriber.requests(to: "/step2").count == 2)
    }

    @Test func aParallelSendsToEveryBranchItsFilterPasses() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in
            switch request.path {
            case "/pass": return .reply(to: request, type: request.header("ce-type") ?? "")
            case "/block": return .status(200)
            case "/b0", "/b1", "/b2": return .reply(to: request, type: "from" + request.path.dropFirst())
            default: return .status(200)
            }
        }
        let s = subscriber
        let yaml = """
            apiVersion: flows.knative.dev/v1
            kind: Parallel
            metadata: {name: fan, namespace: ns}
            spec:
              branches:
                - filter: {uri: \(s.url("/pass"))}
                  subscriber: {uri: \(s.url("/b0"))}
                - filter: {uri: \(s.url("/block"))}
                  subscriber: {uri: \(s.url("/b1"))}
                - subscriber: {uri: \(s.url("/b2"))}
                  reply: {uri: \(s.url("/b2-reply"))}
              reply: {uri: \(s.url("/all"))}

            """
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/", id: "p1", host: "fan-kn-parallel-kn-channel.ns").status == 202)
        #expect(eventually { subscriber.requests(to: "/all").count == 1 && subscriber.requests(to: "/b2-reply").count == 1 })
        usleep(300_000)  // nothing more should arrive
        #expect(subscriber.requests(to: "/b1").isEmpty, "the blocking filter answered without an event")
        #expect(subscriber.requests(to: "/all").map { $0.header("ce-type") } == ["fromb0"])
        #expect(subscriber.requests(to: "/b2-reply").map { $0.header("ce-type") } == ["fromb2"])
    }

    @Test func deliveryFormatChoosesStructuredOrBinaryPerDestination() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let s = subscriber
        var yaml = Manifest.channel("ns", "mixed") + Manifest.broker("ns", "default")
        yaml += Manifest.subscription("ns", "structured", channel: "mixed", subscriber: "uri: \(s.url("/json"))", delivery: "format: json\n")
        yaml += Manifest.subscription("ns", "binary", channel: "mixed", subscriber: "uri: \(s.url("/binary"))", delivery: "format: binary\n")
        yaml += Manifest.trigger("ns", "structured", subscriber: s.url("/trigger-json"), delivery: "format: json\n")
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["all.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/channels/ns/mixed", id: "f1", data: "{\"n\":1}").status == 202)
        #expect(try sender.send("/ns/default", id: "f2", data: "{\"n\":2}").status == 202)
        #expect(eventually { [subscriber.requests(to: "/json"), subscriber.requests(to: "/binary"), subscriber.requests(to: "/trigger-json")].allSatisfy { $0.count == 1 } })
        for path in ["/json", "/trigger-json"] {
            let request = try #require(subscriber.requests(to: path).first)
            #expect(request.header("content-type")?.hasPrefix("application/cloudevents+json") == true, "\(path)")
            #expect(request.header("ce-id") == nil && request.bodyText.contains("\"specversion\""), "\(path): \(request.bodyText)")
        }
        let binary = try #require(subscriber.requests(to: "/binary").first)
        #expect(binary.header("ce-id") == "f1" && binary.bodyText == "{\"n\":1}")
    }

    @Test func channelEventsSurviveKillNine() throws {
        let probe = try Subscriber()
        let port = probe.port
        probe.stop()
        let data = temporaryDirectory("channel-crash")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let yaml = Manifest.channel("d", "ch")
            + Manifest.subscription("d", "s", channel: "ch", subscriber: "uri: http://127.0.0.1:\(port)/sink",
                                    delivery: "retry: 1000\nbackoffPolicy: linear\nbackoffDelay: PT0.1S\n")
        let config = try manifestDirectory(["a.yaml": yaml])
        var sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        let sender = EventSender(port: sluice.ingressPort)
        var answered: Set<String> = []
        for index in 0..<200 where try sender.send("/channels/d/ch", id: "c\(index)").status == 202 { answered.insert("c\(index)") }
        #expect(answered.count == 200)
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()

        let subscriber = try Subscriber(port: port)
        defer { subscriber.stop() }
        sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        defer { sluice.stop() }
        #expect(eventually(seconds: 30) { answered.isSubset(of: Set(subscriber.requests(to: "/sink").compactMap(\.eventID))) },
                "lost \(answered.subtracting(subscriber.requests(to: "/sink").compactMap(\.eventID)).count) of 200")
    }
}
