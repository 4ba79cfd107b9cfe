import Foundation
import SluiceIO

/// The built `sluice` binary run as a user would: a real process on real ports. Killed by pid
/// when the value goes away, so a failing test never leaves it running.
public final class SluiceProcess: @unchecked Sendable {
    public let process = Process()
    private let errorPipe = Pipe()
    private let outputPipe = Pipe()
    private let errorText = Locked("")
    private let outputText = Locked("")
    public private(set) var ingressPort = 0
    public private(set) var metricsPort = 0
    /// The TLS ingress port (`--tls-port`), or 0.
    public private(set) var tlsPort = 0
    /// A data directory this value made up and removes when it goes away.
    private var ownedDataDirectory: String?

    /// The binary built beside the test bundle (`swift build --build-tests` builds both).
    public static var binary: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("sluice")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/sluice")
    }

    /// Runs the binary with `arguments`; a `launcher` (such as `prlimit --fsize=N`) runs it
    /// in turn, with the binary's path and the arguments after its own.
    public convenience init(_ arguments: [String], launcher: [String] = []) throws {
        if let program = launcher.first {
            try self.init(executable: program, arguments: Array(launcher.dropFirst()) + [SluiceProcess.binary.path] + arguments)
        } else {
            try self.init(executable: SluiceProcess.binary.path, arguments: arguments)
        }
    }

    /// Runs a shell command line as a user would type it (`exec`ed, so the pid is the
    /// command's), in `directory`.
    public convenience init(shellCommand: String, directory: String) throws {
        try self.init(executable: "/bin/sh", arguments: ["-c", "exec " + shellCommand], directory: directory)
    }

    private init(executable: String, arguments: [String], directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardError = errorPipe
        process.standardOutput = outputPipe
        try process.run()
        for (pipe, text) in [(errorPipe, errorText), (outputPipe, outputText)] {
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                if chunk.isEmpty {
                    handle.readabilityHandler = nil
                } else {
                    text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
                }
            }
        }
    }

    /// Starts `sluice serve` on `config` with ephemeral loopback ports (plus `extra` arguments)
    /// and waits until it listens. Storage is durable, as by default, in `dataDirectory` (a
    /// fresh temporary one unless given); `memory: true` keeps events in memory instead.
    public static func serve(config: String, dataDirectory: String? = nil, memory: Bool = false,
                             extra: [String] = [], launcher: [String] = []) throws -> SluiceProcess {
        let directory = dataDirectory ?? temporaryDirectory("data")
        let storage = memory ? ["--storage", "memory"] : ["--storage", "disk", "--data-dir", directory]
        let sluice = try SluiceProcess(["serve", "--config", config, "--host", "127.0.0.1", "--port", "0",
                                        "--metrics-port", "0"] + storage + extra, launcher: launcher)
        if dataDirectory == nil && !memory { sluice.ownedDataDirectory = directory }
        try sluice.waitUntilListening()
        return sluice
    }

    /// Starts `sluice display` on an ephemeral port (plus `extra` arguments) and waits until it
    /// listens; `ingressPort` is then the port it takes events on.
    public static func display(_ extra: [String] = []) throws -> SluiceProcess {
        let display = try SluiceProcess(["display", "--port", "0"] + extra)
        try display.waitUntilDisplaying()
        return display
    }

    /// Waits until this `sluice display` says where it listens, and reads its port.
    public func waitUntilDisplaying(timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let port = port(after: "Waiting for CloudEvents on http://", in: standardOutput) {
                ingressPort = port
                return
            }
            if !process.isRunning { throw TestFailure("sluice display exited: \(standardError)") }
            usleep(10_000)
        }
        throw TestFailure("sluice display did not start listening: \(standardError)")
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        errorPipe.fileHandleForReading.readabilityHandler = nil
        outputPipe.fileHandleForReading.readabilityHandler = nil
        if let ownedDataDirectory { try? FileManager.default.removeItem(atPath: ownedDataDirectory) }
    }

    /// Everything written to standard error so far.
    public var standardError: String { errorText.withLock { $0 } }

    /// Everything written to standard output so far.
    public var standardOutput: String { outputText.withLock { $0 } }

    /// Waits for the "listening" log line and reads the ports from it.
    public func waitUntilListening(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = standardError
            // Text logs say ingress=127.0.0.1:8080, JSON logs "ingress":"127.0.0.1:8080".
            if let ingress = port(after: "ingress=", in: text) ?? port(after: #""ingress":""#, in: text),
               let metrics = port(after: "metrics=", in: text) ?? port(after: #""metrics":""#, in: text) {
                ingressPort = ingress
                metricsPort = metrics
                tlsPort = port(after: "tls=", in: text) ?? port(after: #""tls":""#, in: text) ?? 0
                return
            }
            if !process.isRunning { throw TestFailure("sluice exited with \(process.terminationStatus): \(text)") }
            usleep(10_000)
        }
        throw TestFailure("sluice did not start listening: \(standardError)")
    }

    private func port(after key: String, in text: String) -> Int? {
        guard let range = text.range(of: key) else { return nil }
        let rest = text[range.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...].prefix { $0.isNumber })
    }

    /// Standard output once the process has exited (and closed it).
    public func standardOutputRemainder() -> String {
        _ = waitForExit()
        return standardOutput
    }

    /// Waits for exit, and for what it wrote to be read to the end; returns the status, or
    /// nil on timeout.
    public func waitForExit(timeout: TimeInterval = 15) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { return nil }
        let drained = Date().addingTimeInterval(2)
        while (errorPipe.fileHandleForReading.readabilityHandler != nil || outputPipe.fileHandleForReading.readabilityHandler != nil)
            && Date() < drained { usleep(2_000) }
        return process.terminationStatus
    }

    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    public func stop() -> Int32? {
        signal(SIGTERM)
        return waitForExit()
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Manifests several end-to-end suites share.
public enum TestManifests {
    /// Broker `demo/default` with one trigger, `all`, to `subscriber` (with more destination
    /// fields such as `CACerts` or `audience`, and its `delivery`).
    public static func brokerAndTrigger(subscriber: String, subscriberFields: [(name: String, value: String)] = [], delivery: String = "") -> String {
        let fields = subscriberFields.map { ", \($0.name): \(quoted($0.value))" }.joined()
        return """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: demo}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: all, namespace: demo}
        spec:
          broker: default
          subscriber: {uri: "\(subscriber)"\(fields)}
        \(delivery)
        """
    }

    /// `text` as a YAML double-quoted scalar (multi-line PEM included).
    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

/// A path for a fresh temporary directory (not created).
public func temporaryDirectory(_ purpose: String) -> String {
    NSTemporaryDirectory() + "sluice-test-\(purpose)-\(getpid())-\(UUID().uuidString.prefix(8))"
}

/// Writes manifests into a fresh temporary directory.
public func manifestDirectory(_ files: [String: String]) throws -> String {
    let directory = temporaryDirectory("config")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, contents) in files {
        try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return directory
}

/// Polls `condition` until it holds or `seconds` pass.
public func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
