internal import CYAML

/// One node of a YAML document as libyaml parsed it, with the line it starts on: what
/// SluiceConfig's decoders read through their `YAMLNode`. Aliases share the node of their anchor rather than copy
/// it, so a document of nested aliases stays as small as its text.
public final class YAMLTree: @unchecked Sendable {  // immutable once the composer returns it
    /// How a scalar was written: plain is what makes `null` or `~` a null rather than a
    /// string; a block (`|` or `>`) starts on the line after its key.
    public enum ScalarStyle: Sendable {
        case plain, quoted, block
    }

    public enum Content {
        /// A scalar's text (escapes resolved) and how it was written.
        case scalar(String, style: ScalarStyle)
        case mapping([(key: YAMLTree, value: YAMLTree)])
        case sequence([YAMLTree])
    }

    public fileprivate(set) var content: Content
    /// 1-based.
    public let line: Int

    init(_ content: Content, line: Int) {
        self.content = content
        self.line = line
    }

    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    public var mapping: [(key: YAMLTree, value: YAMLTree)]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    public var sequence: [YAMLTree]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The value of the first entry whose key is the scalar `key`.
    public subscript(key: String) -> YAMLTree? {
        mapping?.first { $0.key.scalar == key }?.value
    }

    public var scalarStyle: ScalarStyle? {
        if case .scalar(_, let style) = content { return style }
        return nil
    }

    /// A plain `null`, `~` or nothing: YAML's null.
    public var isNull: Bool {
        if case .scalar(let text, .plain) = content { return ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }
}

/// Why a YAML text could not be parsed: libyaml's description and the line of the problem.
public struct YAMLSyntaxError: Error, Sendable {
    public let message: String
    public let line: Int
}

/// Builds `YAMLTree` documents from libyaml's parser events.
public enum YAMLComposer {
    /// Containers nested deeper than this are refused: no manifest needs them, and the
    /// decoders walk trees recursively.
    public static let maxDepth = 64

    /// Every document of `text`, in order; an empty document is a null scalar.
    public static func documents(_ text: String) throws(YAMLSyntaxError) -> [YAMLTree] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLSyntaxError(message: "out of memory", line: 1) }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return try compose(&parser)
        }
    }

    /// A container being filled: a mapping waiting for a key or for the value of `pendingKey`,
    /// or a sequence.
    private struct Open {
        let node: YAMLTree
        var pairs: [(key: YAMLTree, value: YAMLTree)] = []
        var items: [YAMLTree] = []
        var pendingKey: YAMLTree?
        let isMapping: Bool
    }

    private static func compose(_ parser: inout yaml_parser_t) throws(YAMLSyntaxError) -> [YAMLTree] {
        var documents: [YAMLTree] = []
        var anchors: [String: YAMLTree] = [:]
        var stack: [Open] = []
        var root: YAMLTree?
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(parser) }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            var finished: YAMLTree?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
                root = nil
            case YAML_DOCUMENT_END_EVENT:
                documents.append(root ?? YAMLTree(.scalar("", style: .plain), line: line))
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
                let style: YAMLTree.ScalarStyle = switch scalar.style {
                case YAML_PLAIN_SCALAR_STYLE: .plain
                case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: .block
                default: .quoted
                }
                let node = YAMLTree(.scalar(text, style: style), line: line)
                if let anchor = scalar.anchor { anchors[String(cString: anchor)] = node }
                finished = node
            case YAML_ALIAS_EVENT:
                let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                guard let node = anchors[name] else { throw YAMLSyntaxError(message: "unknown alias *\(name)", line: line) }
                // An alias inside the node it names would make the tree a cycle.
                guard !stack.contains(where: { $0.node === node }) else {
                    throw YAMLSyntaxError(message: "alias *\(name) refers to a node that contains it", line: line)
                }
                finished = node
            case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
                guard stack.count < maxDepth else { throw YAMLSyntaxError(message: "nested more than \(maxDepth) levels deep", line: line) }
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let node = YAMLTree(isMapping ? .mapping([]) : .sequence([]), line: line)
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                if let anchor { anchors[String(cString: anchor)] = node }
                stack.append(Open(node: node, isMapping: isMapping))
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                guard let open = stack.popLast() else { break }
                open.node.content = open.isMapping ? .mapping(open.pairs) : .sequence(open.items)
                finished = open.node
            default:
                break
            }
            guard let finished else { continue }
            if stack.isEmpty {
                root = finished
            } else if stack[stack.count - 1].isMapping {
                if let key = stack[stack.count - 1].pendingKey {
                    stack[stack.count - 1].pairs.append((key, finished))
                    stack[stack.count - 1].pendingKey = nil
                } else {
                    stack[stack.count - 1].pendingKey = finished
                }
            } else {
                stack[stack.count - 1].items.append(finished)
            }
        }
    }

    /// libyaml's reason ("mapping values are not allowed in this context", with its context
    /// such as "while scanning a simple key") at the line of the problem.
    private static func syntaxError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "cannot be parsed"
        let message = parser.context.map { "\(String(cString: $0)) \(problem)" } ?? problem
        return YAMLSyntaxError(message: message, line: Int(parser.problem_mark.line) + 1)
    }
}
