import Foundation
import Glibc
import SluiceTestSupport
import Testing

/// The README's "first hour" run as written: every command between its walkthrough markers, in
/// order, from a copy of `config/`, with `.build/release/sluice` standing for the binary under
/// test. Servers (`serve`, `display`) keep running as in their own terminals; starting a
/// display on a port a display already has stops that one first, as its Ctrl-C does. It uses
/// the README's fixed ports (8080, 9092, 9998, 9999).
@Suite("README walkthrough", .serialized)
struct WalkthroughTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shell commands of the walkthrough: each ```sh block between the markers.
    static func commands() throws -> [String] {
        let readme = try String(contentsOf: checkout.appendingPathComponent("README.md"), encoding: .utf8)
        guard let begin = readme.range(of: "<!-- walkthrough:begin -->"), let end = readme.range(of: "<!-- walkthrough:end -->") else {
            throw TestFailure("README.md has no walkthrough markers")
        }
        var commands: [String] = []
        var current: [String]?
        for line in readme[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text == "```sh" {
                current = []
            } else if text == "```", let lines = current {
                commands.append(lines.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current?.append(text)
            }
        }
        return commands
    }

    @Test("every command of the README's walkthrough does what the README says")
    func walkthrough() throws {
        let commands = try Self.commands()
        #expect(commands.count >= 8, "\(commands)")
        let directory = temporaryDirectory("walkthrough")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Self.checkout.appendingPathComponent("config").path, toPath: directory + "/config")

        var servers: [SluiceProcess] = []
        var displays: [Int: SluiceProcess] = [:]
        var stoppedDisplays: [Int: String] = [:]
        var finished: [(command: String, status: Int32, output: String)] = []
        defer { for server in servers + displays.values { server.signal(SIGINT) } }
        for command in commands {
            let line = command.replacingOccurrences(of: ".build/release/sluice", with: SluiceProcess.binary.path)
            if command.contains("sluice serve") {
                let sluice = try SluiceProcess(shellCommand: line, directory: directory)
                servers.append(sluice)
                #expect(eventually(seconds: 20) { (try? get(port: 8080, path: "/readyz").0) == 200 }, "\(sluice.standardError)")
            } else if command.contains("sluice display"), let port = Int(command.components(separatedBy: "--port ").last?.prefix { $0.isNumber } ?? "") {
                if let running = displays[port] {
                    running.signal(SIGINT)
                    #expect(running.waitForExit() == 0, "display stops on Ctrl-C")
                    stoppedDisplays[port] = running.standardOutput
                }
                let display = try SluiceProcess(shellCommand: line, directory: directory)
                try display.waitUntilDisplaying()
                displays[port] = display
            } else {
                if command.hasPrefix("curl") {
                    // As a reader would, look once the dead letters have arrived.
                    #expect(eventually(seconds: 15) { (displays[9998]?.standardOutput.components(separatedBy: "knativeerrorcode: 500").count ?? 0) >= 3 },
                            "\(displays[9998]?.standardOutput ?? "")")
                }
                let run = try SluiceProcess(shellCommand: line, directory: directory)
                let status = run.waitForExit() ?? -1
                finished.append((command, status, run.standardOutputRemainder()))
            }
        }

        let sends = finished.filter { $0.command.contains("sluice send") }
        #expect(sends.count == 3)
        if sends.count == 3 {
            #expect(sends[0].status == 0 && sends[0].output.contains("202 Accepted"), "\(sends[0])")
            #expect(sends[1].status == 1 && sends[1].output.contains("404 Not Found") && sends[1].output.contains("demo/nope"), "\(sends[1])")
            #expect(sends[2].status == 0 && sends[2].output.contains("202 Accepted"), "\(sends[2])")
        }
        let delivered = stoppedDisplays[9999] ?? ""
        for expected in ["POST /orders", "POST /audit", "  type: com.example.order.created", "knativearrivaltime", "\"id\": 1"] {
            #expect(delivered.contains(expected), "the first display lacks \(expected): \(delivered)")
        }
        let failing = displays[9999]?.standardOutput ?? ""
        #expect(failing.components(separatedBy: "→ answered 500 (--fail 100%)").count - 1 == 8, "1 + 3 retries for each of two triggers: \(failing)")
        let deadLetters = displays[9998]?.standardOutput ?? ""
        for expected in ["POST /dead-letters", "knativeerrordest: http://127.0.0.1:9999/orders", "knativeerrordest: http://127.0.0.1:9999/audit",
                         "\"id\": 2"] {
            #expect(deadLetters.contains(expected), "dead letters lack \(expected): \(deadLetters)")
        }
        let metrics = try #require(finished.first { $0.command.hasPrefix("curl") })
        #expect(metrics.status == 0)
        for name in ["sluice_trigger_events_delivered_total", "sluice_trigger_retries_total", "sluice_trigger_events_dead_lettered_total"] {
            #expect(metrics.output.contains(name), "metrics lack \(name): \(metrics.output)")
        }
        for server in servers { #expect(server.stop() == 0) }
        #expect(servers.first?.standardError.contains("event sent to the dead-letter sink") == true)
    }
}
