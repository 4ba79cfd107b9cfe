import SluiceCloudEvents
import SluiceYAML

/// ConfigMap and Secret (`v1`), and the broker defaults of `config-br-defaults`.
extension ResourceDecoder {
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
            guard let decoded = Base64.decode(entry.value.filter { !$0.isWhitespace }) else {
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
        if let style = valueNode?.node.scalarStyle, style != .block { valueLine -= 1 }
        let root: YAMLTree
        do {
            guard let first = try YAMLComposer.documents(text).first else { return BrokerDefaults() }
            root = first
        } catch {
            diagnostics.error(SourceLocation(file: document.file, line: valueLine), "config-br-defaults: default-br-config is not valid YAML")
            return BrokerDefaults()
        }
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
