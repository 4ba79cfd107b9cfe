/// Every manifest kind Sluice reads, with its decoder: the one place a kind is registered.
/// Adding a kind is its model, its decoder and one line in `served`.
enum ManifestKinds {
    struct Kind: Sendable {
        /// The API group (`eventing.knative.dev`; "" for the core group of ConfigMap and Secret).
        let group: String
        let name: String
        /// Decodes one document of this kind into the set, reporting problems as it goes.
        let decode: @Sendable (YAMLNode, inout ManifestSet) -> Void
    }

    static let served: [Kind] = [
        Kind(group: "eventing.knative.dev", name: "Broker") { document, set in
            if let broker = ResourceDecoder.broker(document) { set.brokers.append(broker) }
        },
        Kind(group: "eventing.knative.dev", name: "Trigger") { document, set in
            if let trigger = ResourceDecoder.trigger(document) { set.triggers.append(trigger) }
        },
        Kind(group: "", name: "ConfigMap") { document, set in
            guard let configMap = ResourceDecoder.configMap(document) else { return }
            set.configMaps.append(configMap)
            if configMap.meta.name == "config-br-defaults" {
                set.brokerDefaults = ResourceDecoder.brokerDefaults(configMap, document)
            }
        },
        Kind(group: "", name: "Secret") { document, set in
            if let secret = ResourceDecoder.secret(document) { set.secrets.append(secret) }
        },
        Kind(group: "sources.knative.dev", name: "KafkaSource") { document, set in
            if let source = ResourceDecoder.kafkaSource(document) { set.kafkaSources.append(source) }
        },
        Kind(group: "eventing.knative.dev", name: "KafkaSink") { document, set in
            if let sink = ResourceDecoder.kafkaSink(document) { set.kafkaSinks.append(sink) }
        },
        Kind(group: "sources.knative.dev", name: "RabbitmqSource") { document, set in
            if let source = ResourceDecoder.rabbitmqSource(document) { set.rabbitmqSources.append(source) }
        },
        Kind(group: "messaging.knative.dev", name: "InMemoryChannel") { document, set in
            if let channel = ResourceDecoder.channel(document, kind: "InMemoryChannel") { set.channels.append(channel) }
        },
        Kind(group: "messaging.knative.dev", name: "Channel") { document, set in
            if let channel = ResourceDecoder.channel(document, kind: "Channel") { set.channels.append(channel) }
        },
        Kind(group: "messaging.knative.dev", name: "KafkaChannel") { document, set in
            if let channel = ResourceDecoder.channel(document, kind: "KafkaChannel") { set.channels.append(channel) }
        },
        Kind(group: "messaging.knative.dev", name: "Subscription") { document, set in
            if let subscription = ResourceDecoder.subscription(document) { set.subscriptions.append(subscription) }
        },
        Kind(group: "sources.knative.dev", name: "PingSource") { document, set in
            if let source = ResourceDecoder.pingSource(document) { set.pingSources.append(source) }
        },
        Kind(group: "flows.knative.dev", name: "Sequence") { document, set in
            if let sequence = ResourceDecoder.sequence(document) { set.sequences.append(sequence) }
        },
        Kind(group: "flows.knative.dev", name: "Parallel") { document, set in
            if let parallel = ResourceDecoder.parallel(document) { set.parallels.append(parallel) }
        },
        Kind(group: "eventing.knative.dev", name: "EventPolicy") { document, set in
            if let policy = ResourceDecoder.eventPolicy(document) { set.eventPolicies.append(policy) }
        },
    ]

    /// Kinds the product serves in a later version: skipped with a warning that says so
    /// (rather than "unknown kind"), so a user knows their manifest was read correctly.
    static let planned: Set<String> = []

    private static let byKey: [String: Kind] = Dictionary(served.map { ("\($0.group)/\($0.name)", $0) }) { first, _ in first }

    /// The kind an `apiVersion` and `kind` name, if Sluice serves it.
    static func kind(group: String, name: String) -> Kind? {
        byKey["\(group)/\(name)"]
    }
}
