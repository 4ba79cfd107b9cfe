import Foundation
import SluiceTestSupport
import Testing

@Suite("sluice executable", .serialized)
struct ServeCommandTests {
    let configDirectory: String = {
        let directory = NSTemporaryDirectory() + "sluice-cli-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/empty.yaml", contents: Data())
        return directory
    }()

    @Test func helpDescribesServe() throws {
        let sluice = try SluiceProcess(["serve", "--help"])
        let help = sluice.standardOutputRemainder()
        #expect(sluice.waitForExit() == 0)
        for option in ["--config", "--port", "--metrics-port", "--storage", "--data-dir", "--cluster-domain"] {
            #expect(help.contains(option), "help lacks \(option)")
        }
    }

    @Test("--version prints the release; completion scripts cover every subcommand")
    func versionAndCompletion() throws {
        let version = try SluiceProcess(["--version"])
        #expect(version.waitForExit() == 0)
        #expect(version.standardOutputRemainder().trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        for shell in ["bash", "zsh", "fish"] {
            let completion = try SluiceProcess(["--generate-completion-script", shell])
            #expect(completion.waitForExit() == 0)
            let script = completion.standardOutputRemainder()
            for command in ["serve", "validate", "send", "display"] { #expect(script.contains(command), "\(shell) completion lacks \(command)") }
        }
    }

    @Test func servesProbesAndMetricsAndStopsOnSIGTERM() throws {
        let sluice = try SluiceProcess(["serve", "--config", configDirectory, "--host", "127.0.0.1",
                                        "--port", "0", "--metrics-port", "0", "--storage", "memory"])
        try sluice.waitUntilListening()
        let health = try get(port: sluice.ingressPort, path: "/healthz")
        #expect(health.0 == 200)
        let ready = try get(port: sluice.ingressPort, path: "/readyz")
        #expect(ready.0 == 200)
        let metrics = try get(port: sluice.metricsPort, path: "/metrics")
        #expect(metrics.0 == 200)
        #expect(metrics.1.contains("process_resident_memory_bytes "))
        kill(sluice.process.processIdentifier, SIGTERM)
        #expect(sluice.waitForExit() == 0)
    }

    @Test func refusesAMissingConfigWithExitCode1() throws {
        let sluice = try SluiceProcess(["serve", "--config", "/nonexistent/sluice-config"])
        #expect(sluice.waitForExit() != 0)
        #expect(eventually { sluice.standardError.contains("/nonexistent/sluice-config") })
    }

    @Test func refusesABusyPort() throws {
        let first = try SluiceProcess(["serve", "--config", configDirectory, "--host", "127.0.0.1",
                                       "--port", "0", "--metrics-port", "0", "--storage", "memory"])
        try first.waitUntilListening()
        let second = try SluiceProcess(["serve", "--config", configDirectory, "--host", "127.0.0.1",
                                        "--port", "\(first.ingressPort)", "--metrics-port", "0", "--storage", "memory"])
        #expect(second.waitForExit() == 1)
        #expect(eventually { second.standardError.contains("cannot listen") })
        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.waitForExit() == 0)
    }
}

@Suite("sluice validate", .serialized)
struct ValidateCommandTests {
    @Test func goodManifestsExitZero() throws {
        let directory = try manifestDirectory(["a.yaml": """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: demo}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t, namespace: demo}
            spec:
              broker: default
              subscriber: {uri: "http://127.0.0.1:9/"}
            ---
            apiVersion: example.com/v1
            kind: Unknown
            metadata: {name: x}
            """])
        let sluice = try SluiceProcess(["validate", "--config", directory])
        #expect(sluice.waitForExit() == 0)
        #expect(sluice.standardOutputRemainder().contains("ok (1 brokers, 1 triggers)"))
        #expect(eventually { sluice.standardError.contains("a.yaml:12: warning: unknown kind Unknown") })
    }

    @Test func everyProblemIsPrintedAsFileLineMessage() throws {
        let directory = try manifestDirectory(["a.yaml": """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: orphan, namespace: demo}
            spec:
              broker: missing
              filter:
                attributes:
                  Bad-Key: x
              subscriber: {uri: "http://127.0.0.1:9/"}
              delivery:
                backoffDelay: soon
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: sql, namespace: demo}
            spec:
              broker: default
              filters:
                - cesql: "type = 'a' AND"
              subscriber: {uri: "http://127.0.0.1:9/"}
            """, "b.yaml": """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: demo}
            spec:
              delivery: {backoffPolicy: sideways}
            """])
        let sluice = try SluiceProcess(["validate", "--config", directory])
        #expect(sluice.waitForExit() == 1)
        #expect(eventually { sluice.standardError.split(separator: "\n").count >= 5 })
        let lines = sluice.standardError.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix(directory + "/a.yaml:5: warning: ") && $0.contains("broker \"missing\" does not exist") })
        #expect(lines.contains { $0.hasPrefix(directory + "/a.yaml:19: ") && $0.contains("cesql") },
                "a CESQL error is reported beside the other problems: \(lines)")
        #expect(lines.contains { $0.hasPrefix(directory + "/a.yaml:8: ") && $0.contains("Bad-Key") })
        #expect(lines.contains { $0.hasPrefix(directory + "/a.yaml:11: ") && $0.contains("backoffDelay") })
        #expect(lines.contains { $0.hasPrefix(directory + "/b.yaml:5: ") && $0.contains("backoffPolicy") })
    }

    @Test func channelsFlowsAndPingSourcesAreCheckedAtTheirLines() throws {
        let directory = try manifestDirectory(["c.yaml": """
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: bad-cron, namespace: demo}
            spec:
              schedule: "61 * * * *"
              timezone: Mars/Olympus
              sink: {uri: "http://127.0.0.1:9/"}
            ---
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata: {name: lonely, namespace: demo}
            spec:
              channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: nowhere}
              subscriber: {uri: "http://127.0.0.1:9/"}
            ---
            apiVersion: flows.knative.dev/v1
            kind: Sequence
            metadata: {name: empty, namespace: demo}
            spec:
              steps: []
            ---
            apiVersion: messaging.knative.dev/v1
            kind: InMemoryChannel
            metadata: {name: empty-kn-sequence-0, namespace: demo}
            ---
            apiVersion: flows.knative.dev/v1
            kind: Parallel
            metadata: {name: twin, namespace: demo}
            spec:
              branches:
                - subscriber: {uri: "http://127.0.0.1:9/"}
            ---
            apiVersion: messaging.knative.dev/v1
            kind: Channel
            metadata: {name: twin-kn-parallel, namespace: demo}
            """])
        let sluice = try SluiceProcess(["validate", "--config", directory])
        #expect(sluice.waitForExit() == 1)
        #expect(eventually { sluice.standardError.split(separator: "\n").count >= 5 })
        let lines = sluice.standardError.split(separator: "\n").map(String.init)
        let file = directory + "/c.yaml"
        #expect(lines.contains { $0.hasPrefix(file + ":5: ") && $0.contains("minute") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix(file + ":6: ") && $0.contains("unknown time zone") })
        #expect(lines.contains { $0.hasPrefix(file + ":13: warning: ") && $0.contains("channel \"nowhere\" does not exist") })
        #expect(lines.contains { $0.hasPrefix(file + ":20: ") && $0.contains("at least one step") })
        #expect(lines.contains { $0.hasPrefix(file + ":26: Parallel demo/twin makes Channel demo/twin-kn-parallel, which is also declared at \(file):33") },
                "a channel a Parallel makes cannot be declared too: \(lines)")
    }

    @Test func serveRefusesTheSameProblems() throws {
        let directory = try manifestDirectory(["a.yaml": """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: bad, namespace: demo}
            spec:
              broker: default
              filters:
                - cesql: "type ="
              subscriber: {uri: "http://127.0.0.1:9/"}
            """])
        let sluice = try SluiceProcess(["serve", "--config", directory, "--storage", "memory", "--port", "0", "--metrics-port", "0"])
        #expect(sluice.waitForExit() == 1)
        #expect(eventually { sluice.standardError.contains("a.yaml:7: ") })
    }

    @Test func aTriggerWaitsForItsBroker() throws {
        let subscriber = try Subscriber()
        defer { subscriber.stop() }
        let trigger = """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: early, namespace: demo}
            spec:
              broker: late
              subscriber: {uri: "\(subscriber.url("/early"))"}

            """
        let directory = try manifestDirectory(["a.yaml": trigger])
        let sluice = try SluiceProcess.serve(config: directory, memory: true)
        defer { sluice.stop() }
        #expect(sluice.standardError.contains("a.yaml:5: Trigger demo/early: broker \"late\" does not exist in namespace demo"))
        let sender = EventSender(port: sluice.ingressPort)
        #expect(try sender.send("/demo/late").status == 404, "no broker yet")
        try (trigger + "---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: late, namespace: demo}\n")
            .write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(eventually { sluice.standardError.contains("configuration reloaded") })
        #expect(try sender.send("/demo/late", id: "now").status == 202)
        #expect(eventually { subscriber.requests(to: "/early").first?.eventID == "now" }, "the trigger became active with its broker")
    }

    @Test func anUnusableDataDirectoryStopsServeWithExitCode1() throws {
        let directory = try manifestDirectory(["a.yaml": """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: demo}
            """])
        // A path below a regular file can never be a directory.
        let sluice = try SluiceProcess(["serve", "--config", directory, "--storage", "disk", "--data-dir", "/proc/version/sluice",
                                        "--port", "0", "--metrics-port", "0"])
        #expect(sluice.waitForExit() == 1)
        #expect(eventually { sluice.standardError.contains("--data-dir /proc/version/sluice is not usable") })
    }
}
