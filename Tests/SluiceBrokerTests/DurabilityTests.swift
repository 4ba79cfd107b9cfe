import Foundation
import SluiceIO
import SluiceTestSupport
import Testing

/// `--storage disk` end to end: what was answered 2xx survives kill -9 and restarts.
@Suite("durability, end to end", .serialized)
struct DurabilityTests {
    /// A loopback port nothing listens on (yet).
    private func unusedPort() throws -> Int {
        let probe = try Subscriber()
        let port = probe.port
        probe.stop()
        return port
    }

    @Test func nothingAnswered2xxIsLostToKillNine() throws {
        let port = try unusedPort()
        let data = temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let delivery = "retry: 1000\nbackoffPolicy: linear\nbackoffDelay: PT0.1S\n"
        let yaml = Manifest.broker("d", "default")
            + Manifest.trigger("d", "t", subscriber: "http://127.0.0.1:\(port)/sink", delivery: delivery)
        let config = try manifestDirectory(["a.yaml": yaml])
        var sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        let ingress = sluice.ingressPort

        // Four producers send 2,000 events while the subscriber refuses connections; the
        // process is killed once half of them were answered.
        let acknowledged = Locked<Set<String>>([])
        let producers = try (0..<4).map { producer in
            try LoopThread(name: "producer-\(producer)") {
                let sender = EventSender(port: ingress)
                for index in 0..<500 {
                    let id = "p\(producer)-\(index)"
                    guard let response = try? sender.send("/d/default", id: id, data: "{\"n\":\(index)}") else { return }
                    if response.status == 202 { acknowledged.withLock { _ = $0.insert(id) } }
                }
            }
        }
        #expect(eventually(seconds: 30) { acknowledged.withLock { $0.count } >= 1000 })
        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        for producer in producers { producer.join() }
        let answered = acknowledged.withLock { $0 }

        let subscriber = try Subscriber(port: port)
        defer { subscriber.stop() }
        sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        defer { sluice.stop() }
        let everyAnswered = eventually(seconds: 60) {
            answered.isSubset(of: Set(subscriber.requests(to: "/sink").compactMap(\.eventID)))
        }
        let received = subscriber.requests(to: "/sink").compactMap(\.eventID)
        let lost = answered.subtracting(received)
        #expect(everyAnswered && lost.isEmpty, "lost \(lost.count) of \(answered.count) answered events")
        print("crash test: \(answered.count) events answered 202 before SIGKILL, \(received.count) deliveries after the restart, "
              + "\(lost.count) lost, \(received.count - Set(received).count) duplicates, "
              + "\(Set(received).subtracting(answered).count) delivered though unanswered (in flight at the kill)")
    }

    @Test func aCleanRestartRedeliversNothingDelivered() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let data = temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = try manifestDirectory(["a.yaml": Manifest.broker("d", "default")
            + Manifest.trigger("d", "t", subscriber: subscriber.url("/sink"))])
        do {
            let sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
            let sender = EventSender(port: sluice.ingressPort)
            for index in 0..<20 { #expect(try sender.send("/d/default", id: "e\(index)").status == 202) }
            #expect(eventually { subscriber.requests(to: "/sink").count == 20 })
            usleep(100_000)  // the done records reach the log
            #expect(sluice.stop() == 0)
        }
        let sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        defer { sluice.stop() }
        #expect(try EventSender(port: sluice.ingressPort).send("/d/default", id: "after").status == 202)
        #expect(eventually { subscriber.requests(to: "/sink").count == 21 })
        usleep(500_000)
        // Each event exactly once; deliveries run side by side, so two may arrive swapped.
        let ids = subscriber.requests(to: "/sink").compactMap(\.eventID)
        #expect(ids.sorted() == ((0..<20).map { "e\($0)" } + ["after"]).sorted(), "\(ids)")
    }

    @Test func aScheduledRetrySurvivesARestartWithItsAttemptCount() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        subscriber.answer { request, _ in request.path == "/dls" ? .status(200) : .status(500) }
        let data = temporaryDirectory("retry")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let delivery = "retry: 3\nbackoffPolicy: linear\nbackoffDelay: PT0.6S\ndeadLetterSink:\n  uri: \(subscriber.url("/dls"))\n"
        let config = try manifestDirectory(["a.yaml": Manifest.broker("d", "default")
            + Manifest.trigger("d", "t", subscriber: subscriber.url("/t"), delivery: delivery)])
        do {
            let sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
            #expect(try EventSender(port: sluice.ingressPort).send("/d/default", id: "stubborn").status == 202)
            #expect(eventually { subscriber.requests(to: "/t").count == 2 })
            usleep(150_000)  // the retry record of attempt 2 reaches the log
            sluice.signal(SIGKILL)
            _ = sluice.waitForExit()
        }
        let sluice = try SluiceProcess.serve(config: config, dataDirectory: data)
        defer { sluice.stop() }
        #expect(eventually(seconds: 15) { subscriber.requests(to: "/dls").count == 1 })
        let times = subscriber.requests(to: "/t").map(\.time)
        #expect(times.count == 4, "one attempt plus retry: 3, across the restart (got \(times.count))")
        if times.count >= 3 {
            // Attempt 3 is due 1.2 s after attempt 2 (linear: 0.6 s × 2), restart or not.
            #expect(times[2] - times[1] >= 1.1, "attempt 3 came \(times[2] - times[1]) s after attempt 2")
        }
        #expect(subscriber.requests(to: "/dls").first?.header("ce-knativeerrorcode") == "500")
    }

    // Under ThreadSanitizer the file-size limit breaks the sanitizer's own start-up, so this
    // runs in the plain suite only (the sanitized build lives in .build-tsan, see .ci/run).
    @Test(.enabled(if: !SluiceProcess.binary.path.contains(".build-tsan/"), "not under ThreadSanitizer"))
    func aFullDiskAnswers503AndNeverCrashes() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let config = try manifestDirectory(["a.yaml": Manifest.broker("d", "default")
            + Manifest.trigger("d", "t", subscriber: subscriber.url("/sink"))])
        // Files may not grow past 64 KiB: writes beyond fail as on a full disk (EFBIG).
        let sluice = try SluiceProcess.serve(config: config, extra: ["--segment-bytes", "1048576"],
                                             launcher: ["/usr/bin/prlimit", "--fsize=65536"])
        defer { sluice.stop() }
        let sender = EventSender(port: sluice.ingressPort)
        let body = "\"" + String(repeating: "x", count: 4000) + "\""
        var statuses: [Int] = []
        var refusal = ""
        for index in 0..<40 {
            let response = try sender.send("/d/default", id: "big-\(index)", data: body)
            statuses.append(response.status)
            if response.status == 503 && refusal.isEmpty { refusal = response.body }
        }
        #expect(statuses.contains(202))
        #expect(statuses.contains(503), "statuses: \(statuses)")
        #expect(Set(statuses).isSubset(of: [202, 503]))
        #expect(refusal.contains("event not stored"), "503 body: \(refusal)")
        #expect(sluice.process.isRunning)
        #expect(sluice.standardError.contains("writing the event log failed"))
        let accepted = Set(zip(0..<40, statuses).filter { $0.1 == 202 }.map { "big-\($0.0)" })
        #expect(eventually { accepted.isSubset(of: Set(subscriber.requests(to: "/sink").compactMap(\.eventID))) })
    }
}
