import SluiceYAML

/// A YAML node with the file it came from, for decoding with `file:line` problems.
struct YAMLNode {
    let node: YAMLTree
    let file: String
    let diagnostics: Diagnostics

    var location: SourceLocation { SourceLocation(file: file, line: node.line) }

    /// The child `key` of a mapping, if present (and not null).
    subscript(key: String) -> YAMLNode? {
        guard let child = node[key], !child.isNull else { return nil }
        return YAMLNode(node: child, file: file, diagnostics: diagnostics)
    }

    /// The mapping's entries, in order, keys as strings.
    var entries: [(key: String, keyLocation: SourceLocation, value: YAMLNode)]? {
        guard let mapping = node.mapping else { return nil }
        return mapping.map { pair in
            (pair.key.scalar ?? "", SourceLocation(file: file, line: pair.key.line),
             YAMLNode(node: pair.value, file: file, diagnostics: diagnostics))
        }
    }

    var items: [YAMLNode]? {
        node.sequence.map { $0.map { YAMLNode(node: $0, file: file, diagnostics: diagnostics) } }
    }

    var isMapping: Bool { node.mapping != nil }

    /// A scalar as its raw text.
    var scalarText: String? { node.scalar }

    // MARK: Typed access that reports problems

    func string(_ key: String, required: Bool = false, context: String) -> String? {
        guard let child = self[key] else {
            if required { diagnostics.error(location, "\(context): missing \(key)") }
            return nil
        }
        guard let text = child.scalarText else {
            diagnostics.error(child.location, "\(context): \(key) must be a string")
            return nil
        }
        return text
    }

    func int(_ key: String, context: String) -> Int? {
        guard let child = self[key] else { return nil }
        guard let text = child.scalarText, let value = Int(text) else {
            diagnostics.error(child.location, "\(context): \(key) must be an integer")
            return nil
        }
        return value
    }

    func bool(_ key: String, context: String) -> Bool? {
        guard let child = self[key] else { return nil }
        switch child.scalarText?.lowercased() {
        case "true": return true
        case "false": return false
        default:
            diagnostics.error(child.location, "\(context): \(key) must be true or false")
            return nil
        }
    }

    func mapping(_ key: String, context: String) -> YAMLNode? {
        guard let child = self[key] else { return nil }
        guard child.isMapping else {
            diagnostics.error(child.location, "\(context): \(key) must be a mapping")
            return nil
        }
        return child
    }

    func sequence(_ key: String, context: String) -> [YAMLNode]? {
        guard let child = self[key] else { return nil }
        guard let items = child.items else {
            diagnostics.error(child.location, "\(context): \(key) must be a list")
            return nil
        }
        return items
    }

    /// A mapping of strings to strings, in order.
    func stringMap(_ key: String, context: String) -> [(key: String, value: String, location: SourceLocation)]? {
        guard let child = mapping(key, context: context), let entries = child.entries else { return nil }
        var result: [(key: String, value: String, location: SourceLocation)] = []
        for entry in entries {
            guard let text = entry.value.scalarText else {
                diagnostics.error(entry.value.location, "\(context): \(key).\(entry.key) must be a string")
                continue
            }
            result.append((entry.key, text, entry.keyLocation))
        }
        return result
    }
}
