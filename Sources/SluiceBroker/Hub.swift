import SluiceConfig

/// What producers post events to: a Broker (its triggers filter them) or a Channel (every
/// subscription gets every event). One machinery serves both: a store, an intake, and a queue
/// and a delivery per trigger or subscription.
public enum HubKind: Sendable {
    case broker
    case channel

    /// The prefix of the hub's ingress metrics.
    var metricPrefix: String { self == .broker ? "sluice_broker" : "sluice_channel" }
}

/// A broker or channel of the manifests, as the reconcilers key and store it.
struct Hub {
    let kind: HubKind
    /// For a channel: its metadata and delivery in a broker's shape.
    let manifest: BrokerManifest
    /// Its API group and kind (`eventing.knative.dev` Broker, `messaging.knative.dev`
    /// InMemoryChannel, ...): what OIDC audiences and EventPolicies name it by.
    let group: String
    let resourceKind: String

    /// Its OIDC audience as Knative computes it: `<group>/<kind>/<namespace>/<name>`, lower-cased.
    var audience: String { "\(group)/\(resourceKind)/\(manifest.meta.namespace)/\(manifest.meta.name)".lowercased() }

    /// "namespace/name" for brokers (the ingress path), "channel:namespace/name" for channels.
    var key: String { Hub.key(kind, namespace: manifest.meta.namespace, name: manifest.meta.name) }

    /// Where a durable store keeps its log under the data directory. Channels live under
    /// `.channels/`, which no namespace (an RFC 1123 label) can be named.
    var storagePath: String {
        let path = "\(manifest.meta.namespace)/\(manifest.meta.name)"
        return kind == .broker ? path : ".channels/\(path)"
    }

    static func key(_ kind: HubKind, namespace: String, name: String) -> String {
        kind == .broker ? "\(namespace)/\(name)" : "channel:\(namespace)/\(name)"
    }

    /// Every broker, then every channel (declared or made for a flow) of `manifests`.
    static func all(in manifests: ManifestSet) -> [Hub] {
        manifests.brokers.map { Hub(kind: .broker, manifest: $0, group: "eventing.knative.dev", resourceKind: "Broker") }
            + manifests.channels.map { channel in
                // A KafkaChannel is served by the Kafka class's backend, as a Kafka-class broker.
                Hub(kind: .channel, manifest: BrokerManifest(meta: channel.meta, brokerClass: channel.kafka == nil ? nil : KafkaBrokerSettings.brokerClass,
                                                             delivery: channel.delivery, config: nil, kafka: channel.kafka),
                    group: "messaging.knative.dev", resourceKind: channel.kind)
            }
    }
}
