import Foundation
import Yams

/// Turns YAML documents into the manifest model, reporting every problem with its line.
enum ResourceDecoder {
    static let brokerClassAnnotation = "eventing.knative.dev/broker.class"

    static func meta(_ document: YAMLNode, kind: String) -> ObjectMeta? {
        guard let metadata = document.mapping("metadata", context: kind) else {
            document.diagnostics.error(document.location, "\(kind): missing metadata")
            return nil
        }
        guard let name = metadata.string("name", required: true, context: "\(kind) metadata") else { return nil }
        let context = "\(kind) \(name)"
        if !isDNSLabel(name) {
            document.diagnostics.error(metadata["name"]?.location ?? metadata.location,
                                       "\(context): name must be a lowercase RFC 1123 label")
        }
        let namespace = metadata.string("namespace", context: context) ?? "default"
        var annotations: [String: String] = [:]
        for entry in metadata.stringMap("annotations", context: context) ?? [] { annotations[entry.key] = entry.value }
        var labels: [String: String] = [:]
        for entry in metadata.stringMap("labels", context: context) ?? [] { labels[entry.key] = entry.value }
        return ObjectMeta(name: name, namespace: namespace, annotations: annotations, labels: labels, location: document.location)
    }

    // MARK: Eventing

    static func broker(_ document: YAMLNode) -> BrokerManifest? {
        guard let meta = meta(document, kind: "Broker") else { return nil }
        let context = "Broker \(meta.namespace)/\(meta.name)"
        let spec = document.mapping("spec", context: context)
        let brokerClass = meta.annotations[brokerClassAnnotation]
        if brokerClass == "Kafka" {
            document.diagnostics.error(meta.location, "\(context): broker class Kafka is not supported by this version of Sluice yet")
        }
        let delivery = spec.flatMap { $0.mapping("delivery", context: context) }.map { deliverySpec($0, context: context) }
        let config = spec.flatMap { $0.mapping("config", context: context) }.flatMap { reference($0, context: "\(context) spec.config") }
        return BrokerManifest(meta: meta, brokerClass: brokerClass, delivery: delivery, config: config)
    }

    static func trigger(_ document: YAMLNode) -> TriggerManifest? {
        guard let meta = meta(document, kind: "Trigger") else { return nil }
        let context = "Trigger \(meta.namespace)/\(meta.name)"
        let diagnostics = document.diagnostics
        guard let spec = document.mapping("spec", context: context) else {
            diagnostics.error(meta.location, "\(context): missing spec")
            return nil
        }
        guard let broker = spec.string("broker", required: true, context: context) else { return nil }
        var attributes: [(name: String, value: String)] = []
        if let filter = spec.mapping("filter", context: context) {
            for entry in filter.stringMap("attributes", context: "\(context) filter") ?? [] {
                if !isAttributeKey(entry.key) {
                    diagnostics.error(entry.location, "\(context): filter attribute key \"\(entry.key)\" must match ^[a-z][a-z0-9]*$")
                }
                attributes.append((entry.key, entry.value))
            }
        }
        var filters: [FilterSpec] = []
        for item in spec.sequence("filters", context: context) ?? [] {
            if let filter = filterSpec(item, context: "\(context) filters") { filters.append(filter) }
        }
        guard let subscriberNode = spec.mapping("subscriber", context: context) else {
            diagnostics.error(spec.location, "\(context): missing subscriber")
            return nil
        }
        guard let subscriber = destination(subscriberNode, context: "\(context) subscriber") else { return nil }
        let delivery = spec.mapping("delivery", context: context).map { deliverySpec($0, context: context) }
        return TriggerManifest(meta: meta, broker: broker, brokerLocation: spec["broker"]?.location ?? meta.location,
                               attributesFilter: attributes, filters: filters, subscriber: subscriber, delivery: delivery)
    }

    /// One `filters` entry: an object with exactly one dialect key.
    static func filterSpec(_ node: YAMLNode, context: String) -> FilterSpec? {
        let diagnostics = node.diagnostics
        guard let entries = node.entries else {
            diagnostics.error(node.location, "\(context): a filter must be a mapping with one dialect")
            return nil
        }
        guard entries.count == 1, let entry = entries.first else {
            let names = entries.map(\.key).joined(separator: ", ")
            diagnostics.error(node.location, entries.isEmpty ? "\(context): empty filter" : "\(context): multiple dialects found (\(names)); use one per filter")
            return nil
        }
        let value = entry.value
        switch entry.key {
        case "exact", "prefix", "suffix":
            guard let pairs = value.entries, !pairs.isEmpty else {
                diagnostics.error(value.location, "\(context): \(entry.key) must be a non-empty mapping of attribute to value")
                return nil
            }
            var result: [(name: String, value: String)] = []
            for pair in pairs {
                guard let text = pair.value.scalarText, !text.isEmpty else {
                    diagnostics.error(pair.value.location, "\(context): \(entry.key).\(pair.key) must be a non-empty string")
                    continue
                }
                if !isAttributeKey(pair.key) {
                    diagnostics.error(pair.keyLocation, "\(context): attribute \"\(pair.key)\" must match ^[a-z][a-z0-9]*$")
                }
                result.append((pair.key, text))
            }
            switch entry.key {
            case "exact": return .exact(result)
            case "prefix": return .prefix(result)
            default: return .suffix(result)
            }
        case "all", "any":
            guard let items = value.items, !items.isEmpty else {
                diagnostics.error(value.location, "\(context): \(entry.key) must be a non-empty list of filters")
                return nil
            }
            let children = items.compactMap { filterSpec($0, context: "\(context) \(entry.key)") }
            return entry.key == "all" ? .all(children) : .any(children)
        case "not":
            guard let child = filterSpec(value, context: "\(context) not") else { return nil }
            return .not(child)
        case "cesql":
            guard let expression = value.scalarText, !expression.isEmpty else {
                diagnostics.error(value.location, "\(context): cesql must be a non-empty string")
                return nil
            }
            return .cesql(expression: expression, location: value.location)
        default:
            diagnostics.error(entry.keyLocation, "\(context): unknown filter dialect \"\(entry.key)\" (exact, prefix, suffix, all, any, not, cesql)")
            return nil
        }
    }

    // MARK: Duck types

    static func destination(_ node: YAMLNode, context: String) -> Destination? {
        let diagnostics = node.diagnostics
        let ref = node.mapping("ref", context: context).flatMap { reference($0, context: "\(context) ref") }
        let uri = node.string("uri", context: context)
        if ref == nil && uri == nil {
            diagnostics.error(node.location, "\(context): needs a ref or a uri")
            return nil
        }
        if let uri {
            let isAbsolute = uri.hasPrefix("http://") || uri.hasPrefix("https://")
            if uri.hasPrefix("https://") {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): https destinations are not supported by this version of Sluice yet")
            } else if !isAbsolute && ref == nil {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): uri \"\(uri)\" must be absolute (http://...) without a ref")
            } else if isAbsolute && ref != nil {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): with a ref, uri must be relative")
            } else if uri.contains(where: { $0 == " " || $0 == "\n" }) {
                diagnostics.error(node["uri"]?.location ?? node.location, "\(context): uri \"\(uri)\" is not a valid URL")
            }
        }
        return Destination(ref: ref, uri: uri, location: node.location)
    }

    static func reference(_ node: YAMLNode, context: String) -> KReference? {
        guard let kind = node.string("kind", required: true, context: context),
              let name = node.string("name", required: true, context: context) else { return nil }
        return KReference(apiVersion: node.string("apiVersion", context: context), kind: kind, name: name,
                          namespace: node.string("namespace", context: context))
    }

    static func deliverySpec(_ node: YAMLNode, context: String) -> DeliverySpec {
        let diagnostics = node.diagnostics
        let context = "\(context) delivery"
        var spec = DeliverySpec(location: node.location)
        if let dls = node.mapping("deadLetterSink", context: context) {
            spec.deadLetterSink = destination(dls, context: "\(context) deadLetterSink")
        }
        if let retry = node.int("retry", context: context) {
            if retry < 0 || retry > 10_000 {
                diagnostics.error(node["retry"]?.location ?? node.location, "\(context): retry must be between 0 and 10000")
            }
            spec.retry = retry
        }
        if let policy = node.string("backoffPolicy", context: context) {
            if let parsed = BackoffPolicy(rawValue: policy) {
                spec.backoffPolicy = parsed
            } else {
                diagnostics.error(node["backoffPolicy"]?.location ?? node.location, "\(context): backoffPolicy must be linear or exponential, not \"\(policy)\"")
            }
        }
        spec.backoffDelay = duration(node, "backoffDelay", context: context, allowZero: true)
        spec.timeout = duration(node, "timeout", context: context, allowZero: false)
        spec.retryAfterMax = duration(node, "retryAfterMax", context: context, allowZero: true)
        if let format = node.string("format", context: context) {
            if let parsed = DeliveryFormat(rawValue: format) {
                spec.format = parsed
            } else {
                diagnostics.error(node["format"]?.location ?? node.location, "\(context): format must be json or binary, not \"\(format)\"")
            }
        }
        return spec
    }

    private static func duration(_ node: YAMLNode, _ key: String, context: String, allowZero: Bool) -> Duration? {
        guard let text = node.string(key, context: context) else { return nil }
        let location = node[key]?.location ?? node.location
        guard let value = ISO8601Duration.parse(text) else {
            node.diagnostics.error(location, "\(context): \(key) \"\(text)\" is not an ISO-8601 duration (e.g. PT0.5S)")
            return nil
        }
        if value < .zero || (!allowZero && value == .zero) {
            node.diagnostics.error(location, "\(context): \(key) must be \(allowZero ? "zero or more" : "more than zero")")
            return nil
        }
        return value
    }

    // MARK: Core

    static func configMap(_ document: YAMLNode) -> ConfigMapManifest? {
        guard let meta = meta(document, kind: "ConfigMap") else { return nil }
        var data: [String: String] = [:]
        for entry in document.stringMap("data", context: "ConfigMap \(meta.name)") ?? [] { data[entry.key] = entry.value }
        return ConfigMapManifest(meta: meta, data: data)
    }

    static func secret(_ document: YAMLNode) -> SecretManifest? {
        guard let meta = meta(document, kind: "Secret") else { return nil }
        let context = "Secret \(meta.namespace)/\(meta.name)"
        var data: [String: [UInt8]] = [:]
        for entry in document.stringMap("data", context: context) ?? [] {
            guard let decoded = Data(base64Encoded: entry.value.filter { !$0.isWhitespace }) else {
                document.diagnostics.error(entry.location, "\(context): data.\(entry.key) is not base64")
                continue
            }
            data[entry.key] = Array(decoded)
        }
        for entry in document.stringMap("stringData", context: context) ?? [] { data[entry.key] = Array(entry.value.utf8) }
        return SecretManifest(meta: meta, data: data)
    }

    /// `config-br-defaults`: the YAML inside `data.default-br-config`.
    static func brokerDefaults(_ configMap: ConfigMapManifest, _ document: YAMLNode) -> BrokerDefaults {
        guard let text = configMap.data["default-br-config"] else { return BrokerDefaults() }
        let diagnostics = document.diagnostics
        let valueNode = document["data"]?["default-br-config"]
        // A block scalar (`|`) starts on the line after its key; a quoted or plain value on it.
        var valueLine = valueNode?.location.line ?? configMap.meta.location.line
        if case .scalar(let scalar)? = valueNode?.node, scalar.style != .literal && scalar.style != .folded { valueLine -= 1 }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            diagnostics.error(SourceLocation(file: document.file, line: valueLine), "config-br-defaults: default-br-config is not valid YAML")
            return BrokerDefaults()
        }
        guard let root else { return BrokerDefaults() }
        // Lines inside the block are relative to it; the block starts on the line after the key.
        let inner = YAMLNode(node: root, file: document.file, diagnostics: Diagnostics())
        var defaults = BrokerDefaults()
        let shifted = LineShiftingDiagnostics(target: diagnostics, offset: valueLine)
        defer { shifted.flush(inner.diagnostics) }
        if let cluster = inner.mapping("clusterDefault", context: "config-br-defaults"),
           let delivery = cluster.mapping("delivery", context: "config-br-defaults clusterDefault") {
            defaults.clusterDefault = deliverySpec(delivery, context: "config-br-defaults clusterDefault")
        }
        for entry in inner.mapping("namespaceDefaults", context: "config-br-defaults")?.entries ?? [] {
            if let delivery = entry.value.mapping("delivery", context: "config-br-defaults \(entry.key)") {
                defaults.namespaceDefaults[entry.key] = deliverySpec(delivery, context: "config-br-defaults namespaceDefaults.\(entry.key)")
            }
        }
        return defaults
    }

    // MARK: Names

    /// Trigger filter keys: `^[a-z][a-z0-9]*$` (Knative's trigger validation).
    static func isAttributeKey(_ key: String) -> Bool {
        guard let first = key.utf8.first, first >= 0x61 && first <= 0x7A else { return false }
        return key.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isDNSLabel(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253, name.first != "-", name.last != "-" else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
    }
}

/// Re-reports problems found inside an embedded YAML block at file lines.
private struct LineShiftingDiagnostics {
    let target: Diagnostics
    let offset: Int

    func flush(_ inner: Diagnostics) {
        for problem in inner.errors {
            target.error(SourceLocation(file: problem.location.file, line: problem.location.line + offset), problem.message)
        }
    }
}
