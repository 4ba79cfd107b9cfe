/// Kubernetes object metadata, with where the object was declared.
public struct ObjectMeta: Sendable {
    public var name: String
    public var namespace: String
    public var annotations: [String: String]
    public var labels: [String: String]
    public var location: SourceLocation
}

/// A reference to another object (duck-typed `KReference`).
public struct KReference: Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String
    public var name: String
    public var namespace: String?
}

/// Where events go: a `ref`, a `uri`, or a ref plus a relative uri (duck `Destination`).
public struct Destination: Sendable {
    public var ref: KReference?
    public var uri: String?
    public var location: SourceLocation
    /// `CACerts`: PEM certificates trusted for this destination's TLS, beside the process's.
    public var caCerts: String?
    /// `audience`: requests to it carry an OIDC token for this audience.
    public var audience: String?
}

public enum BackoffPolicy: String, Sendable {
    case linear, exponential
}

/// `delivery.format`: how events are sent to subscribers (Knative 1.15+): `json` forces
/// structured mode, `binary` binary mode.
public enum DeliveryFormat: String, Sendable {
    case binary
    case json
}

/// Knative's `DeliverySpec`.
public struct DeliverySpec: Sendable {
    public var deadLetterSink: Destination?
    public var retry: Int?
    public var backoffPolicy: BackoffPolicy?
    public var backoffDelay: Duration?
    public var timeout: Duration?
    public var retryAfterMax: Duration?
    public var format: DeliveryFormat?
    public var location: SourceLocation
}

/// A trigger filter from `spec.filters` (the Subscriptions API dialects).
public indirect enum FilterSpec: Sendable {
    case exact([(name: String, value: String)])
    case prefix([(name: String, value: String)])
    case suffix([(name: String, value: String)])
    case all([FilterSpec])
    case any([FilterSpec])
    case not(FilterSpec)
    case cesql(expression: String, location: SourceLocation)
}

public struct BrokerManifest: Sendable {
    public var meta: ObjectMeta
    /// `eventing.knative.dev/broker.class`; nil for the default class.
    public var brokerClass: String?
    public var delivery: DeliverySpec?
    public var config: KReference?
    /// For a Kafka-class broker: its topic and cluster, resolved from `config` after loading.
    public var kafka: KafkaBrokerSettings?

    public init(meta: ObjectMeta, brokerClass: String?, delivery: DeliverySpec?, config: KReference?, kafka: KafkaBrokerSettings? = nil) {
        self.meta = meta
        self.brokerClass = brokerClass
        self.delivery = delivery
        self.config = config
        self.kafka = kafka
    }

    /// `eventing.knative.dev/broker.class: Kafka`: the broker's events live in a Kafka topic.
    public var isKafkaClass: Bool { brokerClass == KafkaBrokerSettings.brokerClass }
}

public struct TriggerManifest: Sendable {
    public var meta: ObjectMeta
    public var broker: String
    /// Where `spec.broker` is written.
    public var brokerLocation: SourceLocation
    /// `spec.filter.attributes`, in order.
    public var attributesFilter: [(name: String, value: String)]
    /// `spec.filters`; when non-empty it replaces `attributesFilter`.
    public var filters: [FilterSpec]
    public var subscriber: Destination
    public var delivery: DeliverySpec?
}

public struct ConfigMapManifest: Sendable {
    public var meta: ObjectMeta
    public var data: [String: String]
}

public struct SecretManifest: Sendable {
    public var meta: ObjectMeta
    public var data: [String: [UInt8]]
}

/// The delivery defaults of `config-br-defaults` (cluster default, per-namespace overrides).
public struct BrokerDefaults: Sendable {
    public var clusterDefault: DeliverySpec?
    public var namespaceDefaults: [String: DeliverySpec] = [:]

    public init(clusterDefault: DeliverySpec? = nil, namespaceDefaults: [String: DeliverySpec] = [:]) {
        self.clusterDefault = clusterDefault
        self.namespaceDefaults = namespaceDefaults
    }

    public func delivery(forNamespace namespace: String) -> DeliverySpec? {
        namespaceDefaults[namespace] ?? clusterDefault
    }
}

/// Everything read from the manifests, checked for consistency.
public struct ManifestSet: Sendable {
    public var brokers: [BrokerManifest] = []
    public var triggers: [TriggerManifest] = []
    public var configMaps: [ConfigMapManifest] = []
    public var secrets: [SecretManifest] = []
    public var kafkaSources: [KafkaSourceManifest] = []
    public var kafkaSinks: [KafkaSinkManifest] = []
    public var rabbitmqSources: [RabbitmqSourceManifest] = []
    /// Declared channels and subscriptions, then (after loading) those the flows are made of.
    public var channels: [ChannelManifest] = []
    public var subscriptions: [SubscriptionManifest] = []
    public var sequences: [SequenceManifest] = []
    public var parallels: [ParallelManifest] = []
    public var pingSources: [PingSourceManifest] = []
    public var eventPolicies: [EventPolicyManifest] = []
    public var brokerDefaults = BrokerDefaults()
    public var warnings: [ConfigProblem] = []

    public init() {}

    public func broker(namespace: String, name: String) -> BrokerManifest? {
        brokers.first { $0.meta.namespace == namespace && $0.meta.name == name }
    }

    public func secret(namespace: String, name: String) -> SecretManifest? {
        secrets.first { $0.meta.namespace == namespace && $0.meta.name == name }
    }

    public func configMap(namespace: String?, name: String) -> ConfigMapManifest? {
        configMaps.first { (namespace == nil || $0.meta.namespace == namespace) && $0.meta.name == name }
    }

    public func channel(namespace: String, name: String) -> ChannelManifest? {
        channels.first { $0.meta.namespace == namespace && $0.meta.name == name }
    }

    public func kafkaSink(namespace: String, name: String) -> KafkaSinkManifest? {
        kafkaSinks.first { $0.meta.namespace == namespace && $0.meta.name == name }
    }
}
