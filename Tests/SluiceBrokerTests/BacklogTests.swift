import Foundation
import SluiceIO
import SluiceTestSupport
import Testing

/// `--storage disk` with a subscriber that is down: its trigger lags on disk, memory stays
/// bounded by the window, the broker keeps answering 202, the other trigger keeps delivering,
/// and nothing is lost across kill -9.
@Suite("backlogs on disk, end to end", .serialized)
struct BacklogTests {
    /// The resident memory of a process, in bytes.
    private func residentBytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    @Test func aSubscriberDownMakesItsTriggerLagNotTheBrokerFull() throws {
        let probe = try Subscriber()
        let downPort = probe.port
        probe.stop()
        let fast = try Subscriber()
        defer { fast.stop() }
        let data = temporaryDirectory("backlog")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let delivery = "retry: 1000\nbackoffPolicy: linear\nbackoffDelay: PT0.2S\n"
        let config = try manifestDirectory(["a.yaml": Manifest.broker("d", "default")
            + Manifest.trigger("d", "down", subscriber: "http://127.0.0.1:\(downPort)/down", delivery: delivery)
            + Manifest.trigger("d", "up", subscriber: fast.url("/up"))])
        let window = ["--max-events-per-trigger", "100", "--segment-bytes", "4194304"]
        var sluice = try SluiceProcess.serve(config: config, dataDirectory: data, extra: window)
        let before = residentBytes(sluice.process.processIdentifier)

        // 4,000 events of 16 KiB (40 windows, 64 MiB): held in memory they would show.
        let body = "\"" + String(repeating: "k", count: 16 * 1024) + "\""
        let statuses = Locked<[Int: Int]>([:])
        let ingress = sluice.ingressPort
        let producers = try (0..<4).map { producer in
            try LoopThread(name: "producer-\(producer)") {
                let sender = EventSender(port: ingress)
                for index in 0..<1000 {
                    let status = (try? sender.send("/d/default", id: "p\(producer)-\(index)", data: body).status) ?? 0
                    statuses.withLock { $0[status, default: 0] += 1 }
                }
            }
        }
        for producer in producers { producer.join() }
        #expect(statuses.withLock { $0 } == [202: 4000], "no 503 below the disk bound")
        #expect(eventually(seconds: 30) { fast.requests(to: "/up").count == 4000 }, "the other trigger does not wait")
        let grown = residentBytes(sluice.process.processIdentifier) - before
        #expect(grown < 40 << 20, "resident memory grew by \(grown >> 20) MiB for a 64 MiB backlog")
        print("backlog test: resident memory grew by \(grown >> 20) MiB with 64 MiB owed to a trigger whose subscriber is down")

        sluice.signal(SIGKILL)
        _ = sluice.waitForExit()
        let down = try Subscriber(port: downPort)
        defer { down.stop() }
        sluice = try SluiceProcess.serve(config: config, dataDirectory: data, extra: window)
        defer { sluice.stop() }
        let expected = Set((0..<4).flatMap { producer in (0..<1000).map { "p\(producer)-\($0)" } })
        #expect(eventually(seconds: 60) { Set(down.requests(to: "/down").compactMap(\.eventID)) == expected },
                "\(Set(down.requests(to: "/down").compactMap(\.eventID)).count) of 4000 delivered after the restart")
    }
}
