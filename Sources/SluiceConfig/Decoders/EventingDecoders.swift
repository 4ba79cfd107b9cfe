/// Broker and Trigger (`eventing.knative.dev/v1`).
extension ResourceDecoder {
    static func broker(_ document: YAMLNode) -> BrokerManifest? {
        guard let meta = meta(document, kind: "Broker") else { return nil }
        let context = "Broker \(meta.namespace)/\(meta.name)"
        let spec = document.mapping("spec", context: context)
        let brokerClass = meta.annotations[brokerClassAnnotation]
        let delivery = spec.flatMap { $0.mapping("delivery", context: context) }.map { deliverySpec($0, context: context) }
        let config = spec.flatMap { $0.mapping("config", context: context) }.flatMap { reference($0, context: "\(context) spec.config") }
        return BrokerManifest(meta: meta, brokerClass: brokerClass, delivery: delivery, config: config)
    }

    static func trigger(_ document: YAMLNode) -> TriggerManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "Trigger") else { return nil }
        let diagnostics = document.diagnostics
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
}
