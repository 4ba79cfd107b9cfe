import Foundation
import Glibc
import SluiceTestSupport
import Testing

/// RabbitmqSource end to end: a real Sluice process consuming from a real `rabbitmq-server`
/// (started by the tests, shared by them, each on its own queues), delivering to a real HTTP
/// subscriber, with messages published by a plain librabbitmq client.
@Suite("RabbitmqSource", .serialized)
struct RabbitmqSourceTests {
    @Test("binding prefixes, Knative's headers and structured mode arrive as the same event through a broker")
    func everyConvention() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": [RabbitManifests.uriSecret(port: rabbit.port),
                                                         TestManifests.brokerAndTrigger(subscriber: subscriber.url("/s")),
                                                         RabbitManifests.source(queue: "conventions", exchange: "conventions-x")].joined(separator: "\n---\n")])
        let sluice = try SluiceProcess.serve(config: config)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        let publish = ["--exchange", "conventions-x", "--body", #"{"n":1}"#]
        try rabbit.publish(publish + ["--content-type", "application/json", "--header", "cloudEvents:specversion=1.0",
                                      "--header", "cloudEvents:type=t.order", "--header", "cloudEvents:source=/shop", "--header", "cloudEvents:id=colon",
                                      "--header", "app-header=ignored"])
        try rabbit.publish(publish + ["--content-type", "application/json", "--header", "cloudEvents_specversion=1.0",
                                      "--header", "cloudEvents_type=t.order", "--header", "cloudEvents_source=/shop", "--header", "cloudEvents_id=underscore"])
        try rabbit.publish(publish + ["--header", "specversion=1.0", "--header", "type=t.order", "--header", "source=/shop", "--header", "id=knative",
                                      "--header", "content-type=application/json", "--header", "x-death=skipped"])
        try rabbit.publish(["--exchange", "conventions-x", "--content-type", "application/cloudevents+json",
                            "--body", #"{"specversion":"1.0","type":"t.order","source":"/shop","id":"structured","datacontenttype":"application/json","data":{"n":1}}"#])
        #expect(eventually(seconds: 20) { subscriber.requests.count >= 4 }, "\(sluice.standardError)")
        #expect(Set(subscriber.requests.compactMap(\.eventID)) == ["colon", "underscore", "knative", "structured"])
        for request in subscriber.requests {
            #expect(request.header("ce-type") == "t.order" && request.header("ce-source") == "/shop")
            #expect(request.header("content-type") == "application/json" && request.bodyText == #"{"n":1}"#)
            #expect(request.header("ce-app-header") == nil && request.header("ce-x-death") == nil)
        }
        #expect(eventually { (try? rabbit.counts(queue: "conventions"))?.unacknowledged == 0 })
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }

    @Test("a plain message is wrapped with its body, message-id, timestamp and content type")
    func plainMessageIsWrapped() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": RabbitManifests.uriSecret(port: rabbit.port) + "\n---\n"
                + RabbitManifests.source(queue: "plain", exchange: "plain-x", sink: "uri: \"\(subscriber.url("/s"))\"")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "plain-x", "--body", "not an event", "--message-id", "m-42", "--timestamp", "1700000000",
                            "--content-type", "text/plain"])
        try rabbit.publish(["--exchange", "plain-x", "--body", "no id"])
        #expect(eventually(seconds: 20) { subscriber.requests.count >= 2 }, "\(sluice.standardError)")
        let wrapped = try #require(subscriber.requests.first { $0.bodyText == "not an event" })
        #expect(wrapped.eventID == "m-42" && wrapped.header("ce-subject") == "m-42")
        #expect(wrapped.header("ce-type") == "dev.knative.rabbitmq.event")
        #expect(wrapped.header("ce-source") == "/apis/v1/namespaces/demo/rabbitmqsources/plain#plain")
        #expect(wrapped.header("ce-time") == "2023-11-14T22:13:20.000Z")
        #expect(wrapped.header("content-type") == "text/plain")
        let anonymous = try #require(subscriber.requests.first { $0.bodyText == "no id" })
        #expect(anonymous.eventID?.count == 36, "a UUID when the message has no message-id")
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }

    @Test("a message stays unacknowledged while its delivery is pending, and comes again after SIGKILL")
    func unackedUntilDelivered() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        subscriber.answer { _, previous in previous == 0 ? .after(seconds: 30, .status(200)) : .status(200) }
        let config = try manifestDirectory(["all.yaml": RabbitManifests.uriSecret(port: rabbit.port) + "\n---\n"
                + RabbitManifests.source(queue: "pending", exchange: "pending-x", sink: "uri: \"\(subscriber.url("/s"))\"")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "pending-x", "--body", "hold me", "--message-id", "held"])
        #expect(eventually(seconds: 20) { subscriber.requests.count == 1 })
        #expect(eventually(seconds: 10) { (try? rabbit.counts(queue: "pending")).map { $0 == (0, 1) } ?? false })
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        #expect(eventually(seconds: 10) { (try? rabbit.counts(queue: "pending")).map { $0 == (1, 0) } ?? false })
        let again = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { subscriber.requests.count == 2 }, "\(again.standardError)")
        #expect(subscriber.requests.last?.eventID == "held" && subscriber.requests.last?.bodyText == "hold me")
        #expect(eventually(seconds: 10) { (try? rabbit.counts(queue: "pending")).map { $0 == (0, 0) } ?? false })
        #expect(!again.standardError.contains("ThreadSanitizer"), "\(again.standardError)")
        subscriber.stop()
    }

    @Test("retries, then the dead-letter sink, then the ack; without a sink, a nack to the queue's dead-letter exchange")
    func retriesDeadLettersAndNacks() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        subscriber.answer { request, _ in request.path == "/dls" ? .status(202) : .status(500, body: "broken") }
        try rabbit.declare(queue: "dead", exchange: "dead-x")
        try rabbit.declare(queue: "rejecting", deadLetterExchange: "dead-x")
        let deadLettered = RabbitManifests.source(queue: "failing", exchange: "failing-x", sink: "uri: \"\(subscriber.url("/fail"))\"", extra: """
          delivery:
            retry: 2
            backoffDelay: PT0.01S
            deadLetterSink: {uri: "\(subscriber.url("/dls"))"}
        """)
        let rejecting = RabbitManifests.source(queue: "rejecting", predeclared: true, sink: "uri: \"\(subscriber.url("/reject"))\"", extra: """
          delivery:
            retry: 1
            backoffDelay: PT0.01S
        """)
        let config = try manifestDirectory(["all.yaml": [RabbitManifests.uriSecret(port: rabbit.port), deadLettered, rejecting].joined(separator: "\n---\n")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "failing-x", "--body", "doomed"])
        try rabbit.publish(["--routing-key", "rejecting", "--body", "refused"])
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/dls").count == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/fail").count == 3)
        let letter = try #require(subscriber.requests(to: "/dls").first)
        #expect(letter.header("ce-knativeerrorcode") == "500" && letter.header("ce-knativeerrordest") == subscriber.url("/fail"))
        #expect(letter.bodyText == "doomed")
        #expect(eventually(seconds: 10) { (try? rabbit.counts(queue: "failing")).map { $0 == (0, 0) } ?? false })
        #expect(eventually(seconds: 20) { (try? rabbit.counts(queue: "dead"))?.ready == 1 }, "\(sluice.standardError)")
        #expect(subscriber.requests(to: "/reject").count == 2)
        #expect(try rabbit.counts(queue: "rejecting") == (0, 0))
        #expect(try rabbit.drain(queue: "dead", count: 1) == 1)
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }

    @Test("parallelism 10 delivers several times faster than 1 and never has more than 10 in flight; 1 keeps the order")
    func parallelism() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        subscriber.answer { _, _ in .after(seconds: 0.05, .status(200)) }
        let config = try manifestDirectory(["all.yaml": [
            RabbitManifests.uriSecret(port: rabbit.port),
            RabbitManifests.source(queue: "serial", exchange: "serial-x", parallelism: 1, sink: "uri: \"\(subscriber.url("/serial"))\""),
            RabbitManifests.source(queue: "wide", exchange: "wide-x", parallelism: 10, sink: "uri: \"\(subscriber.url("/wide"))\""),
        ].joined(separator: "\n---\n")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "serial-x", "--count", "20", "--body", "%d", "--message-id", "s%d"])
        #expect(eventually(seconds: 30) { subscriber.requests(to: "/serial").count == 20 }, "\(sluice.standardError)")
        try rabbit.publish(["--exchange", "wide-x", "--count", "200", "--body", "%d", "--message-id", "w%d"])
        #expect(eventually(seconds: 30) { subscriber.requests(to: "/wide").count == 200 },
                "\(subscriber.requests(to: "/wide").count) of 200 arrived; \(sluice.rabbitMetrics()) \((try? rabbit.counts(queue: "wide")).map { "\($0)" } ?? "") \(sluice.standardError)")

        let serial = subscriber.requests(to: "/serial")
        #expect(serial.map(\.bodyText) == (0..<20).map(String.init), "parallelism 1 is FIFO")
        let wide = subscriber.requests(to: "/wide")
        let serialRate = Double(serial.count - 1) / ((serial.last?.time ?? 0) - (serial.first?.time ?? 0))
        let wideRate = Double(wide.count - 1) / ((wide.last?.time ?? 0) - (wide.first?.time ?? 0))
        #expect(wideRate > 4 * serialRate, "\(wideRate)/s with parallelism 10 against \(serialRate)/s with 1")
        // Each request is answered 50 ms or more after it arrived: those that arrived within
        // 50 ms of each other were all in flight at once.
        let arrivals = wide.map(\.time).sorted()
        var most = 0
        for (index, start) in arrivals.enumerated() {
            most = max(most, arrivals[index...].prefix { $0 < start + 0.05 }.count)
        }
        #expect(most <= 10 && most >= 5, "at most \(most) in flight")
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }

    @Test("RabbitMQ restarted under a running Sluice: not ready while it is down, reconnected within 5 s, later messages arrive")
    func reconnects() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": RabbitManifests.uriSecret(port: rabbit.port) + "\n---\n"
                + RabbitManifests.source(queue: "restart", exchange: "restart-x", sink: "uri: \"\(subscriber.url("/s"))\"")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 20) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "restart-x", "--body", "before"])
        #expect(eventually(seconds: 20) { subscriber.requests.count == 1 })
        try rabbit.stop()
        #expect(eventually(seconds: 30) { !sluice.readiness().ready })
        #expect(sluice.readiness().body.contains("RabbitmqSource demo/restart: not connected to RabbitMQ"))
        try rabbit.start()
        let back = Date()
        #expect(eventually(seconds: 10) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        #expect(Date().timeIntervalSince(back) < 5)
        try rabbit.publish(["--exchange", "restart-x", "--body", "after"])
        #expect(eventually(seconds: 20) { subscriber.requests.count == 2 }, "\(sluice.standardError)")
        #expect(subscriber.requests.last?.bodyText == "after")
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }

    @Test("a RabbitMQ down at start-up is a warning and a retry loop, not a crash")
    func downAtStartUp() throws {
        let nobody = try RabbitMQServer.freePort()
        let config = try manifestDirectory(["all.yaml": RabbitManifests.uriSecret(port: nobody) + "\n---\n"
                + RabbitManifests.source(queue: "nowhere", exchange: "nowhere-x", sink: "uri: \"http://127.0.0.1:9/\"")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        #expect(eventually(seconds: 10) { sluice.standardError.contains("RabbitMQ connection failed; reconnecting") }, "\(sluice.standardError)")
        #expect(sluice.readiness().body.contains("RabbitmqSource demo/nowhere: not connected to RabbitMQ at amqp://guest@127.0.0.1:\(nobody)/"))
        usleep(2_500_000)
        #expect(sluice.process.isRunning)
        #expect(sluice.stop() == 0)
    }

    @Test("predeclared: false declares the exchange, queue and binding; true waits, not ready, until the queue exists")
    func declarations() throws {
        let rabbit = try RabbitMQServer.shared()
        let subscriber = try Subscriber()
        let config = try manifestDirectory(["all.yaml": [
            RabbitManifests.knativeSecret(port: rabbit.port),
            RabbitManifests.source(queue: "declared", exchange: "declared-x", sink: "uri: \"\(subscriber.url("/declared"))\""),
            RabbitManifests.source(queue: "later", predeclared: true, sink: "uri: \"\(subscriber.url("/later"))\""),
        ].joined(separator: "\n---\n")])
        let sluice = try SluiceProcess.serve(config: config, memory: true)
        // The declaring source connects; the other one stays out, saying why.
        #expect(eventually(seconds: 20) {
            let body = sluice.readiness().body
            return body.contains("RabbitmqSource demo/later") && !body.contains("demo/declared")
        }, "\(sluice.readiness().body)")
        #expect(sluice.readiness().body.contains("404"), "the missing queue is named in the reason: \(sluice.readiness().body)")
        try rabbit.publish(["--exchange", "declared-x", "--body", "to the declared queue"])
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/declared").count == 1 }, "\(sluice.standardError)")
        try rabbit.declare(queue: "later")
        #expect(eventually(seconds: 10) { sluice.readiness().ready }, "\(sluice.readiness().body)")
        try rabbit.publish(["--routing-key", "later", "--body", "now it exists"])
        #expect(eventually(seconds: 20) { subscriber.requests(to: "/later").count == 1 }, "\(sluice.standardError)")
        #expect(!sluice.standardError.contains("ThreadSanitizer"), "\(sluice.standardError)")
        subscriber.stop()
    }
}
