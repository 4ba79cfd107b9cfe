import Foundation
import Glibc

/// A TLS front for a `KafkaCluster` (whose mock brokers speak plain TCP only): one TLS listener
/// per broker on 127.0.0.1, run by `Tests/KafkaMockCluster/kafka_tls_front.py`, which relays to
/// the brokers and gives clients the fronts' addresses in place of the brokers'. Killed by pid
/// when the value goes.
public final class KafkaTLSFront: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    /// The fronts' addresses, for `bootstrapServers`.
    public let bootstrap: String

    public init(_ cluster: KafkaCluster, certificate: String, key: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("KafkaMockCluster/kafka_tls_front.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, certificate, key, cluster.bootstrap]
        bootstrap = try KafkaCluster.start(process, input: input, output: output, name: "the Kafka TLS front")
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
