import ArgumentParser
import Glibc
import SluiceBroker
import SluiceConfig
import SluiceIdentity
import SluiceKafkaBridge
import SluiceRabbitMQBridge
import SluiceSources
import SluiceTLS

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the manifests at --config and print every problem as file:line: message.",
        discussion: "Exits 0 when the manifests can be served, 1 otherwise. Warnings (skipped kinds) are printed but do not fail."
    )

    @Option(name: .long, help: "A YAML file or a directory of *.yaml/*.yml files holding Knative manifests.")
    var config: String

    @Option(name: .long, help: "Suffix of service hostnames that refs resolve to.")
    var clusterDomain: String = "cluster.local"

    @Option(name: .long, help: "A TLS certificate chain to check with --tls-key, as serve would load it.")
    var tlsCert: String?

    @Option(name: .long, help: "The private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .long, help: "A directory of PEM certificates to check, as serve would trust it for https deliveries.")
    var trustBundleDir: String?

    @Option(name: .long, help: "A JWKS file to check, as serve --oidc would load it.")
    var oidcJwks: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() throws {
        var options = DataPlaneOptions()
        options.clusterDomain = clusterDomain
        let read = ManifestLoader.read(path: config)
        let problems = read.problems + DataPlaneController.check(read.manifests, options: options, components: ConfigurationLoader.components)
        let warnings = read.manifests.warnings.map { ConfigProblem(location: $0.location, message: "warning: \($0.message)") }
        for line in (problems + warnings).sorted(by: ConfigProblem.inFileOrder) { printError(line.description) }
        let tlsProblems = transportSecurityProblems()
        for problem in tlsProblems { printError(problem) }
        if !problems.isEmpty || !tlsProblems.isEmpty { throw ExitCode(1) }
        let manifests = read.manifests
        var counts = ["\(manifests.brokers.count) brokers", "\(manifests.triggers.count) triggers"]
        if !manifests.kafkaSources.isEmpty { counts.append("\(manifests.kafkaSources.count) Kafka sources") }
        if !manifests.kafkaSinks.isEmpty { counts.append("\(manifests.kafkaSinks.count) Kafka sinks") }
        if !manifests.rabbitmqSources.isEmpty { counts.append("\(manifests.rabbitmqSources.count) RabbitMQ sources") }
        // Channels and subscriptions as the user declared them; a flow's own are counted in it.
        let channels = manifests.channels.filter { $0.madeBy == nil }.count
        let subscriptions = manifests.subscriptions.filter { $0.madeBy == nil }.count
        if channels > 0 { counts.append("\(channels) channels") }
        if subscriptions > 0 { counts.append("\(subscriptions) subscriptions") }
        if !manifests.sequences.isEmpty { counts.append("\(manifests.sequences.count) sequences") }
        if !manifests.parallels.isEmpty { counts.append("\(manifests.parallels.count) parallels") }
        if !manifests.pingSources.isEmpty { counts.append("\(manifests.pingSources.count) ping sources") }
        print("\(config): ok (\(counts.joined(separator: ", ")))")
    }

    /// The TLS files given, loaded as `serve` would load them.
    private func transportSecurityProblems() -> [String] {
        var problems: [String] = []
        if let tlsCert, let tlsKey {
            do { _ = try TLSServerContext(certificatePath: tlsCert, keyPath: tlsKey) } catch { problems.append("--tls-cert/--tls-key: \(error)") }
        }
        if let trustBundleDir {
            do { _ = try TLSClientContext(trustDirectory: trustBundleDir) } catch { problems.append("--trust-bundle-dir: \(error)") }
        }
        if let oidcJwks {
            do { _ = try OIDCVerifier(jwksPath: oidcJwks, issuer: "") } catch { problems.append("--oidc-jwks: \(error)") }
        }
        return problems
    }
}

/// Reading and checking manifests, the same way for `validate`, `serve` and reloads.
enum ConfigurationLoader {
    /// The kinds served beside brokers and triggers, each with its own checks.
    static let components: [any DataPlaneComponent.Type] = [KafkaBridge.self, RabbitmqBridge.self, PingSources.self]

    static func load(path: String, options: DataPlaneOptions) -> Result<ManifestSet, ConfigError> {
        let read = ManifestLoader.read(path: path)
        // Checks that only building finds (filters, destinations) run on whatever decoded, so
        // one run reports every problem.
        let problems = read.problems + DataPlaneController.check(read.manifests, options: options, components: components)
        if !problems.isEmpty { return .failure(ConfigError(problems: problems.sorted(by: ConfigProblem.inFileOrder))) }
        return .success(read.manifests)
    }
}

func printError(_ line: String) {
    var standardError = StandardError()
    print(line, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
