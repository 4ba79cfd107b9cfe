/// Resolves each Kafka-class broker's settings from the ConfigMap its `spec.config` names (the
/// broker's namespace when the reference has none; `kafka-broker-config` in `knative-eventing`
/// when the broker names none, as Knative's default), once every document is read.
enum KafkaBrokerConfig {
    static let defaultConfigMap = (name: "kafka-broker-config", namespace: "knative-eventing")
    static let dataPlaneConfigMap = (name: "config-kafka-broker-data-plane", consumer: "config-kafka-broker-consumer.properties",
                                     producer: "config-kafka-broker-producer.properties")

    static let channelConfigMap = (name: "kafka-channel-config", namespace: "knative-eventing")

    static func resolve(_ set: inout ManifestSet, _ diagnostics: Diagnostics) {
        let tuning = set.configMap(namespace: nil, name: dataPlaneConfigMap.name)
        // KafkaChannels: the cluster of Knative's `kafka-channel-config`.
        for index in set.channels.indices where set.channels[index].kafka != nil {
            let channel = set.channels[index]
            let context = "\(channel.kind) \(channel.meta.namespace)/\(channel.meta.name)"
            guard let configMap = set.configMap(namespace: channelConfigMap.namespace, name: channelConfigMap.name) else {
                diagnostics.error(channel.meta.location, "\(context): its Kafka settings, ConfigMap \(channelConfigMap.namespace)/\(channelConfigMap.name), do not exist")
                continue
            }
            guard let servers = bootstrapServers(configMap, for: context, diagnostics) else { continue }
            set.channels[index].kafka?.bootstrapServers = servers
            let auth = authProperties(configMap, in: set, for: context, diagnostics)
            set.channels[index].kafka?.authProperties = auth
            set.channels[index].kafka?.consumerTuning = tuning?.data[dataPlaneConfigMap.consumer] ?? ""
            set.channels[index].kafka?.producerTuning = tuning?.data[dataPlaneConfigMap.producer] ?? ""
        }
        for index in set.brokers.indices where set.brokers[index].isKafkaClass {
            let broker = set.brokers[index]
            let context = "Broker \(broker.meta.namespace)/\(broker.meta.name)"
            let reference = broker.config
            if let reference, reference.kind != "ConfigMap" {
                diagnostics.error(broker.meta.location, "\(context): spec.config of a Kafka-class broker must be a ConfigMap, not a \(reference.kind)")
                continue
            }
            let name = reference?.name ?? defaultConfigMap.name
            let namespace = reference.map { $0.namespace ?? broker.meta.namespace } ?? defaultConfigMap.namespace
            guard let configMap = set.configMap(namespace: namespace, name: name) else {
                diagnostics.error(broker.meta.location, "\(context): its Kafka settings, ConfigMap \(namespace)/\(name), do not exist")
                continue
            }
            guard let servers = bootstrapServers(configMap, for: context, diagnostics) else { continue }
            func number(_ key: String, default value: Int) -> Int {
                guard let text = configMap.data[key] else { return value }
                guard let parsed = Int(text.trimmingSpaces), parsed > 0, parsed <= 10_000 else {
                    diagnostics.error(configMap.meta.location, "ConfigMap \(namespace)/\(name): \(key) must be a positive number, not \"\(text)\"")
                    return value
                }
                return parsed
            }
            let external = broker.meta.annotations[KafkaBrokerSettings.externalTopicAnnotation].flatMap { $0.isEmpty ? nil : $0 }
            set.brokers[index].kafka = KafkaBrokerSettings(
                bootstrapServers: servers, topic: external ?? "knative-broker-\(broker.meta.namespace)-\(broker.meta.name)",
                partitions: number("default.topic.partitions", default: 10),
                replicationFactor: number("default.topic.replication.factor", default: 3), externalTopic: external != nil,
                consumerTuning: tuning?.data[dataPlaneConfigMap.consumer] ?? "", producerTuning: tuning?.data[dataPlaneConfigMap.producer] ?? "",
                groupPrefix: "knative-trigger-\(broker.meta.namespace)-")
            let auth = authProperties(configMap, in: set, for: context, diagnostics)
            set.brokers[index].kafka?.authProperties = auth
        }
    }

    /// The client properties of the Secret `configMap` names in `auth.secret.ref.name` (in
    /// `auth.secret.ref.namespace`, else the ConfigMap's namespace), as Knative reads it.
    private static func authProperties(_ configMap: ConfigMapManifest, in set: ManifestSet, for context: String,
                                       _ diagnostics: Diagnostics) -> [String: String] {
        guard let name = configMap.data["auth.secret.ref.name"].map({ $0.trimmingSpaces }), !name.isEmpty else {
            return [:]
        }
        let namespace = configMap.data["auth.secret.ref.namespace"].flatMap { $0.isEmpty ? nil : $0 } ?? configMap.meta.namespace
        let origin = "ConfigMap \(configMap.meta.namespace)/\(configMap.meta.name) (for \(context))"
        guard let secret = set.secret(namespace: namespace, name: name) else {
            diagnostics.error(configMap.meta.location, "\(origin): Secret \"\(name)\" does not exist in namespace \(namespace)")
            return [:]
        }
        let problems = KafkaAuthSecret.problems(secret.data)
        for problem in problems { diagnostics.error(configMap.meta.location, "\(origin): Secret \"\(name)\" \(problem)") }
        guard problems.isEmpty else { return [:] }
        return Dictionary(KafkaAuthSecret.properties(secret.data).map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }

    /// `bootstrap.servers` of `configMap`, comma-separated; nil (and a problem) when empty.
    private static func bootstrapServers(_ configMap: ConfigMapManifest, for context: String, _ diagnostics: Diagnostics) -> [String]? {
        let servers = (configMap.data["bootstrap.servers"] ?? "").split(separator: ",")
            .map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        if servers.isEmpty {
            diagnostics.error(configMap.meta.location,
                              "ConfigMap \(configMap.meta.namespace)/\(configMap.meta.name): bootstrap.servers is missing (needed by \(context))")
            return nil
        }
        return servers
    }
}
