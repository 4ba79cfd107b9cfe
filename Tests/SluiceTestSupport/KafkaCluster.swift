import Foundation
import Glibc
import SluiceIO

/// librdkafka's mock Kafka cluster (the real protocol over TCP on 127.0.0.1) in its own process,
/// run from the `sluice-kafka-mock` helper built beside `sluice`, so a test can restart Sluice
/// while the cluster keeps its topics, offsets and groups. Killed by pid when the value goes.
public final class KafkaCluster: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    public let bootstrap: String

    /// Starts a cluster with `topics` (name and partition count) created up front.
    public init(topics: [(String, Int)] = [], brokers: Int = 1) throws {
        process.executableURL = SluiceProcess.binary.deletingLastPathComponent().appendingPathComponent("sluice-kafka-mock")
        process.arguments = ["--brokers", String(brokers)] + topics.flatMap { ["--topic", "\($0.0):\($0.1)"] }
        bootstrap = try KafkaCluster.start(process, input: input, output: output, name: "the mock Kafka cluster")
    }

    /// Runs a helper that prints "bootstrap <addresses>" once it listens, and returns them.
    static func start(_ process: Process, input: Pipe, output: Pipe, name: String) throws -> String {
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard let line = readLine(output.fileHandleForReading), line.hasPrefix("bootstrap ") else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("\(name) did not start")
        }
        return String(line.dropFirst("bootstrap ".count))
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Takes broker `id` (1-based) off the network, or puts it back.
    public func setBroker(_ id: Int, up: Bool) throws {
        try command("\(up ? "up" : "down") \(id)")
    }

    public func createTopic(_ name: String, partitions: Int) throws {
        try command("topic \(name) \(partitions)")
    }

    private func command(_ line: String) throws {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        guard KafkaCluster.readLine(output.fileHandleForReading) == "ok" else { throw TestFailure("mock cluster refused: \(line)") }
    }

    static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if first == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(first)
        }
    }

    // MARK: kcat

    /// One record for `produce`.
    public struct Record {
        public var key: String?
        public var value: String
        public var headers: [(String, String)]

        public init(key: String? = nil, value: String, headers: [(String, String)] = []) {
            self.key = key
            self.value = value
            self.headers = headers
        }
    }

    /// Produces `records` to `topic` (optionally one `partition`) with kcat, acks=all.
    public func produce(_ records: [Record], topic: String, partition: Int? = nil) throws {
        for record in records {
            var arguments = ["-P", "-b", bootstrap, "-t", topic, "-X", "acks=all"]
            if let partition { arguments += ["-p", String(partition)] }
            if let key = record.key { arguments += ["-k", key] }
            for (name, value) in record.headers { arguments += ["-H", "\(name)=\(value)"] }
            let status = try KafkaCluster.run("kcat", arguments, input: Data(record.value.utf8)).status
            guard status == 0 else { throw TestFailure("kcat -P exited with \(status)") }
        }
    }

    /// Reads every record of `topic` from the beginning with kcat, as its JSON envelope
    /// (`key`, `payload`, `headers` as a flat name, value list, `partition`, `offset`).
    public func consume(topic: String) throws -> [[String: Any]] {
        let result = try KafkaCluster.run("kcat", ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"])
        return result.output.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Runs a program to completion, with at most 30 seconds.
    public static func run(_ program: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let output = Pipe()
        let inputPipe = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = inputPipe
        try process.run()
        if let input { inputPipe.fileHandleForWriting.write(input) }
        try inputPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(30)
        let collected = Locked(Data())
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil } else { collected.withLock { $0.append(chunk) } }
        }
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestFailure("\(program) did not finish in 30 s")
        }
        usleep(20_000)
        output.fileHandleForReading.readabilityHandler = nil
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let data = collected.withLock { $0 } + rest
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
