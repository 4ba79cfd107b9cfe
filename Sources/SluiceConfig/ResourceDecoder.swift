/// Turns YAML documents into the manifest model, reporting every problem with its line. The
/// decoders of each group of kinds live in `Decoders/`; `ManifestKinds` says which decoder
/// serves which kind.
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

    /// The metadata, the "<Kind> <namespace>/<name>" that starts its problems, and the `spec`
    /// of a kind that must have one.
    static func withSpec(_ document: YAMLNode, kind: String) -> (meta: ObjectMeta, context: String, spec: YAMLNode)? {
        guard let meta = meta(document, kind: kind) else { return nil }
        let context = "\(kind) \(meta.namespace)/\(meta.name)"
        guard let spec = document.mapping("spec", context: context) else {
            document.diagnostics.error(meta.location, "\(context): missing spec")
            return nil
        }
        return (meta, context, spec)
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
