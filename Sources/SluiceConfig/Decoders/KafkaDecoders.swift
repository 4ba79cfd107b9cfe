/// KafkaSource (`sources.knative.dev/v1`, `v1beta1`) and KafkaSink (`eventing.knative.dev/v1alpha1`).
extension ResourceDecoder {
    static let deliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"
    static let keyTypeLabel = "kafkasources.sources.knative.dev/key-type"

    static func kafkaSource(_ document: YAMLNode) -> KafkaSourceManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "KafkaSource") else { return nil }
        let diagnostics = document.diagnostics
        let servers = bootstrapServers(spec, context: context)
        let topics = stringList(spec, "topics", context: context)
        if topics.isEmpty { diagnostics.error(spec["topics"]?.location ?? spec.location, "\(context): topics must name at least one topic") }
        let initialOffset = enumValue(spec, "initialOffset", context: context, default: KafkaInitialOffset.latest)
        let annotated = meta.annotations[deliveryOrderAnnotation].flatMap { text -> KafkaDeliveryOrder? in
            guard let order = KafkaDeliveryOrder(rawValue: text) else {
                diagnostics.error(meta.location, "\(context): annotation \(deliveryOrderAnnotation) must be ordered or unordered, not \"\(text)\"")
                return nil
            }
            return order
        }
        let ordering = spec["ordering"] == nil ? (annotated ?? .ordered) : enumValue(spec, "ordering", context: context, default: KafkaDeliveryOrder.ordered)
        let consumers = spec.int("consumers", context: context) ?? 1
        if consumers < 1 || consumers > 100 {
            diagnostics.error(spec["consumers"]?.location ?? spec.location, "\(context): consumers must be between 1 and 100")
        }
        let keyType = meta.labels[keyTypeLabel] ?? "string"
        if !["string", "int", "float", "byte-array"].contains(keyType) {
            diagnostics.error(meta.location, "\(context): label \(keyTypeLabel) must be string, int, float or byte-array, not \"\(keyType)\"")
        }
        var overrides: [(name: String, value: String)] = []
        if let ce = spec.mapping("ceOverrides", context: context) {
            for entry in ce.stringMap("extensions", context: "\(context) ceOverrides") ?? [] {
                if !isAttributeKey(entry.key) {
                    diagnostics.error(entry.location, "\(context): ceOverrides extension \"\(entry.key)\" must match ^[a-z][a-z0-9]*$")
                } else if ["id", "source", "type", "specversion", "data"].contains(entry.key) {
                    diagnostics.error(entry.location, "\(context): ceOverrides cannot set \(entry.key)")
                }
                overrides.append((entry.key, entry.value))
            }
        }
        let net = spec.mapping("net", context: context).map { kafkaNet($0, context: "\(context) net") } ?? KafkaNetSpec()
        guard let sinkNode = spec.mapping("sink", context: context) else {
            diagnostics.error(spec.location, "\(context): missing sink")
            return nil
        }
        guard let sink = destination(sinkNode, context: "\(context) sink") else { return nil }
        let delivery = spec.mapping("delivery", context: context).map { deliverySpec($0, context: context) }
        let group = spec.string("consumerGroup", context: context).flatMap { $0.isEmpty ? nil : $0 }
            ?? "knative-kafka-source-\(meta.namespace)-\(meta.name)"
        return KafkaSourceManifest(meta: meta, bootstrapServers: servers, topics: topics, consumerGroup: group, initialOffset: initialOffset,
                                   consumers: consumers, ordering: ordering, sink: sink, delivery: delivery, ceOverrides: overrides,
                                   net: net, keyType: keyType)
    }

    static func kafkaSink(_ document: YAMLNode) -> KafkaSinkManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "KafkaSink") else { return nil }
        let diagnostics = document.diagnostics
        guard let topic = spec.string("topic", required: true, context: context) else { return nil }
        if topic.isEmpty || topic.count > 249 || !topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
            diagnostics.error(spec["topic"]?.location ?? spec.location, "\(context): topic \"\(topic)\" is not a valid Kafka topic name")
        }
        let servers = bootstrapServers(spec, context: context)
        let contentMode = spec.string("contentMode", context: context) ?? "binary"
        if contentMode != "binary" && contentMode != "structured" {
            diagnostics.error(spec["contentMode"]?.location ?? spec.location, "\(context): contentMode must be binary or structured, not \"\(contentMode)\"")
        }
        let secretNode = spec.mapping("auth", context: context)?.mapping("secret", context: "\(context) auth")?
            .mapping("ref", context: "\(context) auth.secret")
        let secret = secretNode?.string("name", required: true, context: "\(context) auth.secret.ref")
        return KafkaSinkManifest(meta: meta, topic: topic, bootstrapServers: servers, contentMode: contentMode, authSecret: secret,
                                 authLocation: secretNode?.location ?? spec.location)
    }

    /// `bootstrapServers`: a list whose entries may each hold several comma-separated servers.
    private static func bootstrapServers(_ spec: YAMLNode, context: String) -> [String] {
        let servers = stringList(spec, "bootstrapServers", context: context)
            .flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        if servers.isEmpty {
            spec.diagnostics.error(spec["bootstrapServers"]?.location ?? spec.location, "\(context): bootstrapServers must name at least one server")
        }
        for server in servers where !server.contains(":") {
            spec.diagnostics.error(spec["bootstrapServers"]?.location ?? spec.location, "\(context): bootstrap server \"\(server)\" needs a port (host:port)")
        }
        return servers
    }

    private static func stringList(_ node: YAMLNode, _ key: String, context: String) -> [String] {
        var values: [String] = []
        for item in node.sequence(key, context: context) ?? [] {
            guard let text = item.scalarText else {
                node.diagnostics.error(item.location, "\(context): \(key) entries must be strings")
                continue
            }
            values.append(text)
        }
        return values
    }

    private static func enumValue<Value: RawRepresentable<String>>(_ node: YAMLNode, _ key: String, context: String, default value: Value) -> Value {
        guard let text = node.string(key, context: context) else { return value }
        guard let parsed = Value(rawValue: text) else {
            node.diagnostics.error(node[key]?.location ?? node.location, "\(context): \(key) \"\(text)\" is not one of the accepted values")
            return value
        }
        return parsed
    }

    private static func kafkaNet(_ node: YAMLNode, context: String) -> KafkaNetSpec {
        var net = KafkaNetSpec()
        if let sasl = node.mapping("sasl", context: context) {
            net.saslEnabled = sasl.bool("enable", context: "\(context) sasl") ?? false
            net.saslUser = secretKey(sasl, "user", context: "\(context) sasl")
            net.saslPassword = secretKey(sasl, "password", context: "\(context) sasl")
            net.saslType = secretKey(sasl, "type", context: "\(context) sasl")
        }
        if let tls = node.mapping("tls", context: context) {
            net.tlsEnabled = tls.bool("enable", context: "\(context) tls") ?? false
            net.tlsCert = secretKey(tls, "cert", context: "\(context) tls")
            net.tlsKey = secretKey(tls, "key", context: "\(context) tls")
            net.tlsCACert = secretKey(tls, "caCert", context: "\(context) tls")
        }
        return net
    }

    /// `<key>: {secretKeyRef: {name, key}}`.
    private static func secretKey(_ node: YAMLNode, _ key: String, context: String) -> SecretKeyReference? {
        guard let value = node.mapping(key, context: context) else { return nil }
        guard let ref = value.mapping("secretKeyRef", context: "\(context) \(key)") else {
            node.diagnostics.error(value.location, "\(context) \(key): needs a secretKeyRef")
            return nil
        }
        guard let name = ref.string("name", required: true, context: "\(context) \(key).secretKeyRef"),
              let secretKey = ref.string("key", required: true, context: "\(context) \(key).secretKeyRef") else { return nil }
        return SecretKeyReference(name: name, key: secretKey, location: ref.location)
    }
}
