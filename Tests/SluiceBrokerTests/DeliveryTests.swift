import Foundation
import SluiceTestSupport
import Testing

@Suite("delivery, end to end", .serialized)
struct DeliveryTests {
    /// Times (seconds) between successive requests to `path`.
    private func gaps(_ subscriber: Subscriber, _ path: String) -> [Double] {
        let times = subscriber.requests(to: path).map(\.time)
        return zip(times.dropFirst(), times).map { $0 - $1 }
    }

    private func decodeBase64(_ text: String?) -> String? {
        text.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func retriesExactlyNTimesThenDeadLetters() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/dls" ? .status(202) : .status(500, body: "boom") }
        let delivery = "retry: 3\nbackoffPolicy: linear\nbackoffDelay: PT0.05S\ndeadLetterSink:\n  uri: \(subscriber.url("/dls"))\n"
        let yaml = Manifest.broker("d", "default") + Manifest.trigger("d", "failing", subscriber: subscriber.url("/fail"), delivery: delivery)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default", id: "doomed").status == 202)
        #expect(eventually { subscriber.requests(to: "/dls").count == 1 })
        usleep(300_000)
        #expect(subscriber.requests(to: "/fail").count == 4, "one attempt plus retry: 3")
        let letter = try #require(subscriber.requests(to: "/dls").first)
        #expect(letter.eventID == "doomed")
        #expect(letter.header("ce-knativeerrordest") == subscriber.url("/fail"))
        #expect(letter.header("ce-knativeerrorcode") == "500")
        #expect(decodeBase64(letter.header("ce-knativeerrordata")) == "boom")
        #expect(letter.header("Prefer") == nil, "dead-letter sinks are not asked for replies")
    }

    @Test(arguments: [("linear", [0.2, 0.4, 0.6]), ("exponential", [0.2, 0.4, 0.8])])
    func backoffSpacing(policy: String, expected: [Double]) throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { _, _ in .status(503) }
        let delivery = "retry: 3\nbackoffPolicy: \(policy)\nbackoffDelay: PT0.2S\n"
        let yaml = Manifest.broker("d", "default") + Manifest.trigger("d", "t", subscriber: subscriber.url("/t"), delivery: delivery)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default").status == 202)
        #expect(eventually { subscriber.requests(to: "/t").count == 4 })
        for (gap, wanted) in zip(gaps(subscriber, "/t"), expected) {
            #expect(gap >= wanted * 0.95 && gap < wanted * 1.1 + 0.15, "\(policy): waited \(gap) s, wanted \(wanted) s")
        }
    }

    @Test func perAttemptTimeout() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/dls" ? .status(200) : .after(seconds: 3, .status(200)) }
        let delivery = "retry: 1\nbackoffDelay: PT0.05S\ntimeout: PT0.3S\ndeadLetterSink:\n  uri: \(subscriber.url("/dls"))\n"
        let yaml = Manifest.broker("d", "default") + Manifest.trigger("d", "t", subscriber: subscriber.url("/slow"), delivery: delivery)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default").status == 202)
        #expect(eventually(seconds: 3) { subscriber.requests(to: "/dls").count == 1 })
        #expect(subscriber.requests(to: "/slow").count == 2)
        let gap = try #require(gaps(subscriber, "/slow").first)
        #expect(gap >= 0.3 && gap < 0.8, "second attempt \(gap) s after the first")
        #expect(subscriber.requests(to: "/dls").first?.header("ce-knativeerrorcode") == "500")
    }

    @Test(arguments: [(nil, 1.0), ("PT0.3S", 0.3)] as [(String?, Double)])
    func retryAfterIsHonoured(retryAfterMax: String?, expectedWait: Double) throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { _, previous in previous == 0 ? .status(429, headers: [("Retry-After", "1")]) : .status(200) }
        var delivery = "retry: 2\nbackoffDelay: PT0.05S\n"
        if let retryAfterMax { delivery += "retryAfterMax: \(retryAfterMax)\n" }
        let yaml = Manifest.broker("d", "default") + Manifest.trigger("d", "t", subscriber: subscriber.url("/t"), delivery: delivery)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default").status == 202)
        #expect(eventually { subscriber.requests(to: "/t").count == 2 })
        let gap = try #require(gaps(subscriber, "/t").first)
        #expect(gap >= expectedWait * 0.95 && gap < expectedWait + 0.3, "waited \(gap) s")
    }

    @Test func triggerThenBrokerThenDefaultDelivery() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { _, _ in .status(500) }
        let quick = "backoffDelay: PT0.02S\nbackoffPolicy: linear\n"
        var yaml = Manifest.defaults("retry: 2\n" + quick)
        yaml += Manifest.broker("d", "with-delivery", delivery: "retry: 1\n" + quick)
        yaml += Manifest.broker("d", "plain")
        yaml += Manifest.trigger("d", "own", broker: "with-delivery", subscriber: subscriber.url("/own"), delivery: "retry: 3\n" + quick)
        yaml += Manifest.trigger("d", "inherits-broker", broker: "with-delivery", subscriber: subscriber.url("/broker"))
        yaml += Manifest.trigger("d", "inherits-default", broker: "plain", subscriber: subscriber.url("/default"))
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/d/with-delivery").status == 202)
        #expect(try sender.send("/d/plain").status == 202)
        #expect(eventually { subscriber.requests.count >= 9 })
        usleep(300_000)
        #expect(subscriber.requests(to: "/own").count == 4)
        #expect(subscriber.requests(to: "/broker").count == 2)
        #expect(subscriber.requests(to: "/default").count == 3)
    }

    @Test func deadLetterExtensionsForEachKindOfFailure() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in
            switch request.path {
            case "/unprocessable": return .status(422)
            case "/unprocessable-with-body": return .status(422, body: String(repeating: "e", count: 2000))
            default: return .status(200)
            }
        }
        let dls = "deadLetterSink:\n  uri: \(subscriber.url("/dls"))\n"
        var yaml = Manifest.broker("d", "default")
        yaml += Manifest.trigger("d", "unreachable", subscriber: "http://127.0.0.1:1/nobody", filter: ["type": "unreachable"], delivery: dls)
        yaml += Manifest.trigger("d", "unprocessable", subscriber: subscriber.url("/unprocessable"), filter: ["type": "plain"],
                                 delivery: "retry: 5\n" + dls)
        yaml += Manifest.trigger("d", "unprocessable-with-body", subscriber: subscriber.url("/unprocessable-with-body"),
                                 filter: ["type": "body"], delivery: dls)
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        for type in ["unreachable", "plain", "body"] {
            #expect(try sender.send("/d/default", id: type, type: type).status == 202)
        }
        #expect(eventually { subscriber.requests(to: "/dls").count == 3 })
        let letters = Dictionary(subscriber.requests(to: "/dls").map { ($0.eventID ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let unreachable = try #require(letters["unreachable"])
        #expect(unreachable.header("ce-knativeerrorcode") == "500")
        #expect(unreachable.header("ce-knativeerrordest") == "http://127.0.0.1:1/nobody")
        #expect(decodeBase64(unreachable.header("ce-knativeerrordata"))?.hasPrefix("dispatch error") == true)
        let plain = try #require(letters["plain"])
        #expect(plain.header("ce-knativeerrorcode") == "422")
        #expect(plain.header("ce-knativeerrordata") == nil)
        #expect(subscriber.requests(to: "/unprocessable").count == 1, "422 is not retried")
        let withBody = try #require(letters["body"])
        #expect(decodeBase64(withBody.header("ce-knativeerrordata")) == String(repeating: "e", count: 1024))
    }

    @Test func subscriberSeesKnativeHeaders() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let yaml = Manifest.broker("team", "default") + Manifest.trigger("team", "t", subscriber: subscriber.url("/t"))
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        #expect(try EventSender(port: sluice.ingressPort).send("/team/default", extensions: ["note": "Euro € sign"], headers: [
            ("traceparent", traceparent), ("tracestate", "vendor=1"), ("X-Request-Id", "req-1"), ("Knative-Hello", "world"),
            ("X-B3-TraceId", "abc"), ("X-Private", "secret"),
        ]).status == 202)
        #expect(eventually { subscriber.requests(to: "/t").count == 1 })
        let request = try #require(subscriber.requests(to: "/t").first)
        #expect(request.header("Prefer") == "reply")
        #expect(request.header("Kn-Namespace") == "team")
        #expect(request.header("traceparent") == traceparent)
        #expect(request.header("tracestate") == "vendor=1")
        #expect(request.header("X-Request-Id") == "req-1")
        #expect(request.header("Knative-Hello") == "world")
        #expect(request.header("X-B3-TraceId") == "abc")
        #expect(request.header("X-Private") == nil)
        #expect(request.header("ce-note") == "Euro%20%E2%82%AC%20sign")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("ce-knativebrokerttl") == nil)
    }

    @Test func replyChainsToAnotherTrigger() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in
            guard request.path == "/first" else { return .status(202) }
            return .status(200, body: #"{"derived":true}"#, headers: [
                ("ce-specversion", "1.0"), ("ce-id", "reply-of-\(request.eventID ?? "")"), ("ce-source", "/first"),
                ("ce-type", "second"), ("Content-Type", "application/json"),
            ])
        }
        var yaml = Manifest.broker("d", "default")
        yaml += Manifest.trigger("d", "first", subscriber: subscriber.url("/first"), filter: ["type": "first"])
        yaml += Manifest.trigger("d", "second", subscriber: subscriber.url("/second"), filter: ["type": "second"])
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default", id: "origin", type: "first").status == 202)
        #expect(eventually { subscriber.requests(to: "/second").count == 1 })
        let reply = try #require(subscriber.requests(to: "/second").first)
        #expect(reply.eventID == "reply-of-origin")
        #expect(reply.bodyText == #"{"derived":true}"#)
        #expect(reply.header("ce-knativearrivaltime") != nil)
        #expect(reply.header("ce-knativebrokerttl") == nil)
    }

    @Test func replyLoopStopsAtTheTTL() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        // Every delivery answers with the same kind of event: a loop through the broker.
        subscriber.answer { request, previous in
            .status(200, headers: [("ce-specversion", "1.0"), ("ce-id", "loop-\(previous)"), ("ce-source", "/loop"), ("ce-type", "loop")])
        }
        let yaml = Manifest.broker("d", "default") + Manifest.trigger("d", "loop", subscriber: subscriber.url("/loop"))
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default", type: "loop").status == 202)
        // TTL 255 at first ingress, one less per reply: 255 deliveries, then the reply is refused.
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/loop").count >= 255 })
        usleep(500_000)
        #expect(subscriber.requests(to: "/loop").count == 255)
    }

    @Test func aSlowSubscriberDoesNotDelayOtherTriggers() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/slow" ? .after(seconds: 5, .status(200)) : .status(200) }
        var yaml = Manifest.broker("d", "default")
        yaml += Manifest.trigger("d", "slow", subscriber: subscriber.url("/slow"), filter: ["type": "slow"])
        yaml += Manifest.trigger("d", "fast", subscriber: subscriber.url("/fast"), filter: ["type": "fast"])
        let sluice = try SluiceProcess.serve(config: try manifestDirectory(["a.yaml": yaml]))
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<20 { #expect(try sender.send("/d/default", id: "slow-\(index)", type: "slow").status == 202) }
        let started = Date()
        for index in 0..<20 { #expect(try sender.send("/d/default", id: "fast-\(index)", type: "fast").status == 202) }
        #expect(eventually(seconds: 1) { subscriber.requests(to: "/fast").count == 20 })
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(subscriber.requests(to: "/slow").count >= 1)
    }
}

@Suite("reloads, end to end", .serialized)
struct ReloadTests {
    @Test func sighupAppliesNewTriggersAndKeepsQueuedEvents() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        // The first subscriber answers slowly, so events are still queued during the reload.
        subscriber.answer { request, _ in request.path == "/old" ? .after(seconds: 0.3, .status(200)) : .status(200) }
        let directory = try manifestDirectory(["a.yaml": Manifest.broker("d", "default")
            + Manifest.trigger("d", "old", subscriber: subscriber.url("/old"))])
        let sluice = try SluiceProcess.serve(config: directory, extra: ["--delivery-window", "1"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        for index in 0..<6 { #expect(try sender.send("/d/default", id: "before-\(index)").status == 202) }
        try (Manifest.broker("d", "default") + Manifest.trigger("d", "old", subscriber: subscriber.url("/old"))
            + Manifest.trigger("d", "new", subscriber: subscriber.url("/new")))
            .write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(eventually { sluice.standardError.contains("configuration reloaded") })
        #expect(try sender.send("/d/default", id: "after").status == 202)
        #expect(eventually { subscriber.requests(to: "/old").count == 7 && subscriber.requests(to: "/new").count == 1 })
        #expect(Set(subscriber.requests(to: "/old").compactMap(\.eventID)) == Set((0..<6).map { "before-\($0)" } + ["after"]))
        #expect(subscriber.requests(to: "/new").first?.eventID == "after")

        // A broken configuration is refused and the running one kept.
        try "kind: [".write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(eventually { sluice.standardError.contains("configuration not reloaded") })
        #expect(try sender.send("/d/default", id: "still-served").status == 202)
        #expect(eventually { subscriber.requests(to: "/new").count == 2 })
    }
}
