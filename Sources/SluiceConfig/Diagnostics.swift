/// Where something was written: a manifest file and line (1-based).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One problem found in the manifests, printed as `file:line: message`.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    public let location: SourceLocation
    public let message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }

    /// Orders problems by file, then line (files in the order given, by name).
    public static func inFileOrder(_ a: ConfigProblem, _ b: ConfigProblem) -> Bool {
        (a.location.file, a.location.line) < (b.location.file, b.location.line)
    }
}

/// The one error type of the configuration module: every problem found, in file order.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Collects problems while decoding so that `validate` reports all of them, not the first.
final class Diagnostics {
    private(set) var errors: [ConfigProblem] = []
    private(set) var warnings: [ConfigProblem] = []

    func error(_ location: SourceLocation, _ message: String) {
        errors.append(ConfigProblem(location: location, message: message))
    }

    func warning(_ location: SourceLocation, _ message: String) {
        warnings.append(ConfigProblem(location: location, message: message))
    }
}
