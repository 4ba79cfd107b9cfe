import SluiceConfig
import SluiceKafka

/// The librdkafka properties of a source's consumers and a sink's producers, from the
/// manifests: servers and group, the auth Secret or `net` (with the process's trust bundle),
/// and the data-plane ConfigMaps
/// Knative's Kafka components read (`config-kafka-source-data-plane`,
/// `config-kafka-sink-data-plane`), whose Java client properties librdkafka does not know are
/// left out with a warning.
enum KafkaClientSettings {
    static let sourceConfigMap = (name: "config-kafka-source-data-plane", key: "config-kafka-source-consumer.properties")
    static let sinkConfigMap = (name: "config-kafka-sink-data-plane", key: "config-kafka-sink-producer.properties")
    /// What the delivery guarantees rest on: a ConfigMap cannot change these.
    static let fixed: Set<String> = [
        "bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset", "acks",
        "enable.idempotence", "client.id",
    ]

    static func consumer(_ source: KafkaSourceManifest, manifests: ManifestSet, trust: KafkaTrust) -> (properties: KafkaProperties, ignored: [String]) {
        let tuning = dataPlane(sourceConfigMap, manifests: manifests)
        var properties = tuning.properties
        for entry in KafkaAuthSecret.properties(source.net, namespace: source.meta.namespace, in: manifests) {
            properties[entry.key] = entry.value
        }
        properties["bootstrap.servers"] = source.bootstrapServers.joined(separator: ",")
        properties["group.id"] = source.consumerGroup
        properties["auto.offset.reset"] = source.initialOffset.rawValue
        return (trust.applied(to: properties), tuning.ignored)
    }

    static func producer(_ sink: KafkaSinkManifest, manifests: ManifestSet, trust: KafkaTrust) -> (properties: KafkaProperties, ignored: [String]) {
        let tuning = dataPlane(sinkConfigMap, manifests: manifests)
        var properties = tuning.properties
        if let name = sink.authSecret, let secret = manifests.secret(namespace: sink.meta.namespace, name: name) {
            for entry in KafkaAuthSecret.properties(secret.data) { properties[entry.key] = entry.value }
        }
        properties["bootstrap.servers"] = sink.bootstrapServers.joined(separator: ",")
        return (trust.applied(to: properties), tuning.ignored)
    }

    /// The properties file in a data-plane ConfigMap (any namespace), those librdkafka takes.
    private static func dataPlane(_ map: (name: String, key: String), manifests: ManifestSet) -> (properties: KafkaProperties, ignored: [String]) {
        tuning(manifests.configMap(namespace: nil, name: map.name)?.data[map.key] ?? "")
    }

    /// The properties in a data-plane ConfigMap's text that librdkafka takes and the delivery
    /// guarantees allow; the keys left out.
    static func tuning(_ text: String) -> (properties: KafkaProperties, ignored: [String]) {
        var properties = KafkaProperties()
        var ignored: [String] = []
        for entry in parseProperties(text) {
            if fixed.contains(entry.key) || KafkaProperties.problem(key: entry.key, value: entry.value) != nil {
                ignored.append(entry.key)
            } else {
                properties[entry.key] = entry.value
            }
        }
        return (properties, ignored)
    }

    /// Java properties text: `key=value` or `key: value` lines, `#` and `!` comments.
    static func parseProperties(_ text: String) -> [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = []
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            guard let first = line.first, first != "#", first != "!" else { continue }
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = line[..<separator].trimmingSpaces
            let value = line[line.index(after: separator)...].trimmingSpaces
            if !key.isEmpty { entries.append((key, value)) }
        }
        return entries
    }
}

private extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
