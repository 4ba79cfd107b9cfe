import Glibc
import SluiceYAML

/// Reads Knative manifests from a YAML file or a directory of `*.yaml`/`*.yml` files, each
/// possibly holding several documents. Every problem is collected and reported as
/// `file:line: message`; kinds Sluice does not serve are skipped with a warning.
public enum ManifestLoader {
    /// Loads everything at `path`. Throws a `ConfigError` listing every problem found.
    public static func load(path: String) throws(ConfigError) -> ManifestSet {
        try load(files: try readFiles(at: path))
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
        } catch {
            return (ManifestSet(), error.problems)
        }
    }

    /// The files the manifests at `path` are read from: `path` itself, or the `*.yaml` and
    /// `*.yml` files of the directory at `path` in name order (what `serve --watch` watches).
    public static func manifestFiles(at path: String) throws(ConfigError) -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOTDIR { return [path] }
            let reason = errno == ENOENT ? "no such file or directory" : String(cString: strerror(errno))
            throw ConfigError(problems: [ConfigProblem(location: SourceLocation(file: path, line: 1), message: reason)])
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".yaml") || name.hasSuffix(".yml") else { continue }
            names.append(path.hasSuffix("/") ? path + name : path + "/" + name)
        }
        return names.sorted()
    }

    /// The manifest files at `path` as UTF-8 text.
    static func readFiles(at path: String) throws(ConfigError) -> [(name: String, contents: String)] {
        func failure(_ file: String, _ message: String) -> ConfigError {
            ConfigError(problems: [ConfigProblem(location: SourceLocation(file: file, line: 1), message: message)])
        }
        let names = try manifestFiles(at: path)
        var files: [(name: String, contents: String)] = []
        for name in names {
            guard let bytes = readBytes(name) else { throw failure(name, "cannot read the file: \(String(cString: strerror(errno)))") }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw failure(name, "not UTF-8 text") }
            files.append((name, text))
        }
        return files
    }

    /// A whole file, or nil with `errno` set.
    private static func readBytes(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
        }
    }

    private static func decodeFile(_ name: String, _ contents: String, into set: inout ManifestSet, _ diagnostics: Diagnostics) {
        let documents: [YAMLTree]
        do {
            documents = try YAMLComposer.documents(contents)
        } catch {
            diagnostics.error(SourceLocation(file: name, line: error.line), "invalid YAML: \(error.message)")
            return
        }
        for node in documents {
            decodeDocument(YAMLNode(node: node, file: name, diagnostics: diagnostics), into: &set)
        }
    }

    private static func decodeDocument(_ document: YAMLNode, into set: inout ManifestSet) {
        let diagnostics = document.diagnostics
        if document.node.isNull { return }  // an empty document
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
}
