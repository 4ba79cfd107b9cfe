import Foundation
import Yams

/// Reads Knative manifests from a YAML file or a directory of `*.yaml`/`*.yml` files, each
/// possibly holding several documents. Every problem is collected and reported as
/// `file:line: message`; kinds Sluice does not serve are skipped with a warning.
public enum ManifestLoader {
    /// Loads everything at `path`. Throws a `ConfigError` listing every problem found.
    public static func load(path: String) throws(ConfigError) -> ManifestSet {
        let files: [(name: String, contents: String)]
        do {
            files = try readFiles(at: path)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(problems: [ConfigProblem(location: SourceLocation(file: path, line: 1), message: "\(error)")])
        }
        return try load(files: files)
    }

    /// Loads manifests given as (file name, contents) pairs, in order.
    public static func load(files: [(name: String, contents: String)]) throws(ConfigError) -> ManifestSet {
        let read = read(files: files)
        if !read.problems.isEmpty { throw ConfigError(problems: read.problems) }
        return read.manifests
    }

    /// Reads manifests and returns what decoded together with every problem found, so that
    /// later checks (filters, destinations) can run on the rest and all problems are reported
    /// in one run. A manifest with a problem of its own is left out of `manifests`.
    public static func read(files: [(name: String, contents: String)]) -> (manifests: ManifestSet, problems: [ConfigProblem]) {
        let diagnostics = Diagnostics()
        var set = ManifestSet()
        for file in files {
            decodeFile(file.name, file.contents, into: &set, diagnostics)
        }
        FlowLowering.expand(&set)
        KafkaBrokerConfig.resolve(&set, diagnostics)
        ManifestValidation.checkReferences(set, diagnostics)
        set.warnings = diagnostics.warnings.sorted(by: ConfigProblem.inFileOrder)
        return (set, diagnostics.errors.sorted(by: ConfigProblem.inFileOrder))
    }

    /// Reads everything at `path` (see `read(files:)`).
    public static func read(path: String) -> (manifests: ManifestSet, problems: [ConfigProblem]) {
        do {
            return read(files: try readFiles(at: path))
        } catch let error as ConfigError {
            return (ManifestSet(), error.problems)
        } catch {
            return (ManifestSet(), [ConfigProblem(location: SourceLocation(file: path, line: 1), message: "\(error)")])
        }
    }

    static func readFiles(at path: String) throws -> [(name: String, contents: String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(problems: [ConfigProblem(location: SourceLocation(file: path, line: 1), message: "no such file or directory")])
        }
        var names: [String] = [path]
        if isDirectory.boolValue {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .sorted()
                .map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
        }
        return try names.map { name in
            guard let data = FileManager.default.contents(atPath: name) else {
                throw ConfigError(problems: [ConfigProblem(location: SourceLocation(file: name, line: 1), message: "cannot read the file")])
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(problems: [ConfigProblem(location: SourceLocation(file: name, line: 1), message: "not UTF-8 text")])
            }
            return (name, text)
        }
    }

    private static func decodeFile(_ name: String, _ contents: String, into set: inout ManifestSet, _ diagnostics: Diagnostics) {
        let documents: YamlSequence<Node>
        do {
            documents = try Yams.compose_all(yaml: contents)
        } catch {
            diagnostics.error(yamlErrorLocation(error, file: name), "invalid YAML: \(yamlErrorMessage(error))")
            return
        }
        var iterator = documents.makeIterator()
        while let node = iterator.next() {
            let document = YAMLNode(node: node, file: name, diagnostics: diagnostics)
            decodeDocument(document, into: &set)
        }
        if let error = iterator.error {
            diagnostics.error(yamlErrorLocation(error, file: name), "invalid YAML: \(yamlErrorMessage(error))")
        }
    }

    private static func decodeDocument(_ document: YAMLNode, into set: inout ManifestSet) {
        let diagnostics = document.diagnostics
        if case .scalar(let scalar) = document.node, scalar.string.isEmpty { return }  // an empty document
        guard document.isMapping else {
            diagnostics.error(document.location, "a manifest must be a mapping with apiVersion and kind")
            return
        }
        guard let kind = document.string("kind", required: true, context: "manifest"),
              let apiVersion = document.string("apiVersion", required: true, context: "manifest")
        else { return }
        let group = apiVersion.split(separator: "/").count > 1 ? String(apiVersion.split(separator: "/")[0]) : ""
        if let served = ManifestKinds.kind(group: group, name: kind) {
            served.decode(document, &set)
        } else if ManifestKinds.planned.contains("\(group)/\(kind)") {
            diagnostics.warning(document.location, "\(kind) (\(apiVersion)) is not served by this version of Sluice yet; skipped")
        } else {
            diagnostics.warning(document.location, "unknown kind \(kind) (\(apiVersion)); skipped")
        }
    }

    private static func yamlErrorLocation(_ error: any Error, file: String) -> SourceLocation {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                return SourceLocation(file: file, line: mark.line)
            default:
                break
            }
        }
        return SourceLocation(file: file, line: 1)
    }

    private static func yamlErrorMessage(_ error: any Error) -> String {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
                return context.map { "\($0.text) \(problem)" } ?? problem
            default:
                break
            }
        }
        return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
