import ArgumentParser
import Dispatch
import Glibc
import Logging
import SluiceHTTP
import SluiceIO
import SluiceObservability
import SluiceTLS
import Synchronization

enum StorageKind: String, ExpressibleByArgument, CaseIterable {
    case disk, memory
}

extension LogFormat: ExpressibleByArgument {}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the data plane for the manifests at --config.",
        discussion: "SIGTERM stops accepting, finishes in-flight requests and exits 0. SIGHUP (or a change, with --watch) reloads the manifests."
    )

    @Option(name: .long, help: "A YAML file or a directory of *.yaml/*.yml files holding Knative manifests.")
    var config: String

    @Flag(name: .long, help: "Reload the manifests when --config changes (looked at once a second; a ConfigMap volume's symlink swap counts), as SIGHUP does.")
    var watch = false

    @Option(name: .long, help: "Port of the ingress and the /healthz and /readyz probes.")
    var port: Int = 8080

    @Option(name: .long, help: "Port of the Prometheus /metrics endpoint.")
    var metricsPort: Int = 9092

    @Option(name: .long, help: "Where events of default-class brokers are kept: disk (durable) or memory.")
    var storage: StorageKind = .disk

    @Option(name: .long, help: "Directory of the durable event log (with --storage disk).")
    var dataDir: String = "./.sluice-data"

    @Option(name: .long, help: "Suffix of service hostnames that refs resolve to.")
    var clusterDomain: String = "cluster.local"

    @Option(name: .long, help: "Largest request body accepted, in bytes (larger ones get 413).")
    var maxBodyBytes: Int = 4 * 1024 * 1024

    @Option(name: .long, help: "Events a trigger holds in memory (waiting and in flight): on disk more wait in the log, in memory the broker answers 503.")
    var maxEventsPerTrigger: Int = 10_000

    @Option(name: .long, help: "Bytes of undelivered events a broker holds in memory: on disk more wait in the log, in memory it answers 503.")
    var maxBrokerBytes: Int = 256 * 1024 * 1024

    @Option(name: .long, help: "Bytes of log a broker may keep on disk (--storage disk) before answering 503.")
    var maxDiskBytes: Int = 1024 * 1024 * 1024

    @Option(name: .long, help: "Size at which a broker's log starts a new segment file (--storage disk).")
    var segmentBytes: Int = 64 * 1024 * 1024

    @Option(name: .long, help: "Deliveries in flight per trigger.")
    var deliveryWindow: Int = 100

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(name: .long, help: "Port of the TLS ingress (HTTPS), with --tls-cert and --tls-key.")
    var tlsPort: Int?

    @Option(name: .long, help: "PEM certificate chain of the TLS ingress; read again on SIGHUP and when it changes.")
    var tlsCert: String?

    @Option(name: .long, help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .long, help: "Oldest TLS version the TLS ingress accepts: 1.3 or 1.2.")
    var tlsMinVersion: TLSVersion = .v1_3

    @Option(name: .long, help: "Seconds a new TLS connection has to finish its handshake and send a request.")
    var tlsHandshakeTimeout: Int = 10

    @Option(name: .long, help: "Directory of PEM certificates trusted for https deliveries, beside the system's roots (Knative's /knative-custom-certs).")
    var trustBundleDir: String?

    @Option(name: .long, help: "Which ports take events (Knative's transport-encryption): disabled (plain only), permissive (both), strict (TLS only). Default: permissive with --tls-port, else disabled.")
    var transportEncryption: TransportEncryption?

    @Flag(name: .long, help: "Require an OIDC token (Authorization: Bearer) on the ingress, verified against --oidc-jwks and --oidc-issuer.")
    var oidc = false

    @Option(name: .long, help: "JWKS file of the OIDC issuer's keys; read again when it changes.")
    var oidcJwks: String?

    @Option(name: .long, help: "The issuer (iss) tokens must name.")
    var oidcIssuer: String?

    @Option(name: .long, help: "Directory of OIDC tokens for deliveries: the file <dir>/<audience> for a destination with an audience.")
    var oidcTokenDir: String?

    @Option(name: .long, help: "Event-loop threads (default: one per core).")
    var loops: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Log line format: text, or json (one object per line, for log shippers).")
    var logFormat: LogFormat = .text

    @Flag(name: .long, inversion: .prefixedEnableDisable,
          help: "Label dispatch durations with cloudevents_type (disable to bound the metrics' cardinality).")
    var metricsEventType = true

    func validate() throws {
        for (name, value) in [("--port", port), ("--metrics-port", metricsPort)] where !(0...65535).contains(value) {
            throw ValidationError("\(name) must be between 0 and 65535, not \(value)")
        }
        if maxBodyBytes < 1 { throw ValidationError("--max-body-bytes must be positive") }
        if maxEventsPerTrigger < 1 { throw ValidationError("--max-events-per-trigger must be positive") }
        if maxBrokerBytes < 1024 { throw ValidationError("--max-broker-bytes must be at least 1024") }
        if maxDiskBytes < 1024 * 1024 { throw ValidationError("--max-disk-bytes must be at least 1 MiB") }
        if !(64 * 1024...1024 * 1024 * 1024).contains(segmentBytes) {
            throw ValidationError("--segment-bytes must be between 64 KiB and 1 GiB")
        }
        if dataDir.isEmpty { throw ValidationError("--data-dir must not be empty") }
        if let tlsPort {
            if !(0...65535).contains(tlsPort) { throw ValidationError("--tls-port must be between 0 and 65535, not \(tlsPort)") }
            if tlsCert == nil || tlsKey == nil { throw ValidationError("--tls-port needs --tls-cert and --tls-key") }
        } else if tlsCert != nil || tlsKey != nil {
            throw ValidationError("--tls-cert and --tls-key need --tls-port")
        } else if transportEncryption == .strict || transportEncryption == .permissive {
            throw ValidationError("--transport-encryption \(transportEncryption?.rawValue ?? "") needs --tls-port, --tls-cert and --tls-key")
        }
        if oidc && (oidcJwks == nil || oidcIssuer == nil) { throw ValidationError("--oidc needs --oidc-jwks and --oidc-issuer") }
        if !oidc && (oidcJwks != nil || oidcIssuer != nil) { throw ValidationError("--oidc-jwks and --oidc-issuer need --oidc") }
        if !(1...300).contains(tlsHandshakeTimeout) { throw ValidationError("--tls-handshake-timeout must be between 1 and 300 seconds") }
        if !(1...10_000).contains(deliveryWindow) { throw ValidationError("--delivery-window must be between 1 and 10000") }
        if let loops, loops < 1 || loops > 256 { throw ValidationError("--loops must be between 1 and 256") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var info = stat()
        if stat(config, &info) != 0 {
            throw ValidationError("--config \(config): \(String(cString: strerror(errno)))")
        }
    }

    func run() throws {
        ProcessPolicy.apply()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = logFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label) { line in
                    line.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
                }
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "sluice")
        let runtime = try Runtime(options: self, logger: logger)
        try runtime.start()
        runtime.waitForTermination()
        logger.info("stopped")
    }
}
