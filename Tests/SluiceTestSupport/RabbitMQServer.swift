import Foundation
import Glibc
import SluiceIO

/// Debian's `rabbitmq-server` run by a test, on free loopback ports, with its own node name,
/// Erlang port mapper, mnesia and log directories and an empty plugin list, so it shares
/// nothing with any other RabbitMQ on the machine. `restart` keeps its data. The server and
/// its `epmd` are killed by pid, and the directory removed, when the value goes.
public final class RabbitMQServer: @unchecked Sendable {
    public let port: Int
    public let nodeName: String
    private let directory: String
    private let environment: [String: String]
    private let epmd = Process()
    private var server: Process?

    /// One server for a whole test run (starting one takes seconds): created on first use and
    /// killed, with its `epmd`, by an exit handler when the test process ends.
    public static func shared() throws -> RabbitMQServer {
        try sharedServer.withLock { shared in
            if let server = shared { return server }
            let server = try RabbitMQServer()
            shared = server
            atexit {
                guard let server = RabbitMQServer.sharedServer.withLock({ $0 }) else { return }
                server.cleanUp()
            }
            return server
        }
    }

    private static let sharedServer = Locked<RabbitMQServer?>(nil)

    public init() throws {
        port = try RabbitMQServer.freePort()
        let distributionPort = try RabbitMQServer.freePort()
        let mapperPort = try RabbitMQServer.freePort()
        nodeName = "sluice-test-\(port)@localhost"
        directory = temporaryDirectory("rabbitmq")
        for sub in ["home", "mnesia", "log"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        try "[].".write(toFile: "\(directory)/enabled_plugins", atomically: true, encoding: .utf8)
        try "listeners.tcp.default = 127.0.0.1:\(port)\nloopback_users = none\n"
            .write(toFile: "\(directory)/rabbitmq.conf", atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        let own: [String: String] = [
            "HOME": "\(directory)/home", "RABBITMQ_NODENAME": nodeName, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": String(port), "RABBITMQ_DIST_PORT": String(distributionPort), "ERL_EPMD_PORT": String(mapperPort),
            "ERL_EPMD_ADDRESS": "127.0.0.1", "RABBITMQ_MNESIA_BASE": "\(directory)/mnesia", "RABBITMQ_LOG_BASE": "\(directory)/log",
            "RABBITMQ_CONFIG_FILE": "\(directory)/rabbitmq.conf", "RABBITMQ_ENABLED_PLUGINS_FILE": "\(directory)/enabled_plugins",
            // The start script then execs the Erlang VM, so the process started is the server.
            "RUNNING_UNDER_SYSTEMD": "true",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        ]
        environment.merge(own) { $1 }
        self.environment = environment
        epmd.executableURL = URL(fileURLWithPath: "/usr/bin/epmd")
        epmd.arguments = ["-port", String(mapperPort), "-address", "127.0.0.1"]
        epmd.standardOutput = FileHandle.nullDevice
        epmd.standardError = FileHandle.nullDevice
        try epmd.run()
        try start()
    }

    deinit {
        cleanUp()
    }

    private func cleanUp() {
        kill()
        if epmd.isRunning {
            Glibc.kill(epmd.processIdentifier, SIGKILL)
            epmd.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts the server and waits until it accepts connections (it takes several seconds).
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/lib/rabbitmq/bin/rabbitmq-server")
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle.nullDevice
        try process.run()
        server = process
        guard eventually(seconds: 90, { RabbitMQServer.accepts(port: port) }) else {
            kill()
            throw TestFailure("rabbitmq-server did not start on 127.0.0.1:\(port) in 90 s (logs in \(directory)/log)")
        }
    }

    /// Kills the server (SIGKILL, as a crash or a lost node would).
    public func kill() {
        guard let server, server.isRunning else { return }
        Glibc.kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        self.server = nil
    }

    /// Stops the server as an operator would (`rabbitmqctl stop`: it closes its connections,
    /// flushes its queues and exits), and waits for it.
    public func stop() throws {
        guard let server, server.isRunning else { return }
        // Not SIGTERM: the VM inherits the test process's signal mask, in which it may be blocked.
        _ = try control(["stop"])
        _ = eventually(seconds: 30) { !server.isRunning }
        kill()
    }

    // MARK: Clients

    /// Publishes with `sluice-amqp-peer` (see its usage: `--exchange`, `--body`, `--header`...).
    public func publish(_ arguments: [String]) throws {
        _ = try peer(["publish"] + arguments)
    }

    /// Declares a durable queue (bound to a new fanout `exchange` when given).
    public func declare(queue: String, exchange: String? = nil, quorum: Bool = false, deadLetterExchange: String? = nil) throws {
        var arguments = ["declare", "--queue", queue, "--quorum", quorum ? "1" : "0"]
        if let exchange { arguments += ["--exchange", exchange] }
        if let deadLetterExchange { arguments += ["--dead-letter-exchange", deadLetterExchange] }
        _ = try peer(arguments)
    }

    /// Consumes and acks up to `count` messages of `queue`, for at most `seconds`; returns how
    /// many it got.
    public func drain(queue: String, count: Int, seconds: Double = 5) throws -> Int {
        let output = try peer(["consume", "--queue", queue, "--count", String(count), "--seconds", String(seconds)])
        return Int(output.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Ready and unacknowledged messages of `queue`, as the server counts them.
    public func counts(queue: String) throws -> (ready: Int, unacknowledged: Int) {
        let output = try control(["list_queues", "--quiet", "--no-table-headers", "name", "messages_ready", "messages_unacknowledged"])
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 3, fields[0] == queue, let ready = Int(fields[1]), let unacknowledged = Int(fields[2]) {
                return (ready, unacknowledged)
            }
        }
        throw TestFailure("rabbitmqctl list_queues does not show \(queue)")
    }

    /// Runs `rabbitmqctl` against this node; returns what it printed.
    private func control(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/lib/rabbitmq/bin/rabbitmqctl")
        process.arguments = ["-n", nodeName] + arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    private func peer(_ arguments: [String]) throws -> String {
        let binary = SluiceProcess.binary.deletingLastPathComponent().appendingPathComponent("sluice-amqp-peer").path
        let result = try KafkaCluster.run(binary, [arguments[0], "--port", String(port)] + arguments.dropFirst())
        guard result.status == 0 else { throw TestFailure("sluice-amqp-peer \(arguments.joined(separator: " ")) exited with \(result.status)") }
        return result.output
    }

    // MARK: Ports

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A loopback port nobody listens on now (the kernel's choice for port 0).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard bound, withUnsafeMutablePointer(to: &address, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }) else { throw TestFailure("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }
}
