import ArgumentParser
import Glibc
import SluiceBroker
import SluiceConfig

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the manifests at --config and print every problem as file:line: message.",
        discussion: "Exits 0 when the manifests can be served, 1 otherwise. Warnings (skipped kinds) are printed but do not fail."
    )

    @Option(name: .long, help: "A YAML file or a directory of *.yaml/*.yml files holding Knative manifests.")
    var config: String

    @Option(name: .long, help: "Suffix of service hostnames that refs resolve to.")
    var clusterDomain: String = "cluster.local"

    func run() throws {
        var options = DataPlaneOptions()
        options.clusterDomain = clusterDomain
        switch ConfigurationLoader.load(path: config, options: options) {
        case .failure(let error):
            for problem in error.problems { printError(problem.description) }
            throw ExitCode(1)
        case .success(let manifests):
            for warning in manifests.warnings { printError("\(warning.location): warning: \(warning.message)") }
            print("\(config): ok (\(manifests.brokers.count) brokers, \(manifests.triggers.count) triggers)")
        }
    }
}

/// Reading and checking manifests, the same way for `validate`, `serve` and reloads.
enum ConfigurationLoader {
    static func load(path: String, options: DataPlaneOptions) -> Result<ManifestSet, ConfigError> {
        do {
            let manifests = try ManifestLoader.load(path: path)
            let problems = DataPlaneController.check(manifests, options: options)
            if !problems.isEmpty { return .failure(ConfigError(problems: problems)) }
            return .success(manifests)
        } catch {
            return .failure(error)
        }
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
