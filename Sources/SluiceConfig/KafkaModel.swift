/// One key of a Secret (`secretKeyRef`).
public struct SecretKeyReference: Sendable {
    public var name: String
    public var key: String
    public var location: SourceLocation
}

/// `spec.net` of a KafkaSource (Knative's `KafkaNetSpec`): SASL and TLS, each value read from a
/// Secret key.
public struct KafkaNetSpec: Sendable {
    public var saslEnabled = false
    public var saslUser: SecretKeyReference?
    public var saslPassword: SecretKeyReference?
    /// PLAIN (default), SCRAM-SHA-256 or SCRAM-SHA-512.
    public var saslType: SecretKeyReference?
    public var tlsEnabled = false
    public var tlsCert: SecretKeyReference?
    public var tlsKey: SecretKeyReference?
    public var tlsCACert: SecretKeyReference?

    public init() {}

    public var references: [SecretKeyReference] {
        [saslUser, saslPassword, saslType, tlsCert, tlsKey, tlsCACert].compactMap { $0 }
    }
}

public enum KafkaInitialOffset: String, Sendable {
    case earliest, latest
}

/// `spec.ordering` (or the annotation `kafka.eventing.knative.dev/delivery.order`).
public enum KafkaDeliveryOrder: String, Sendable {
    /// One record at a time per partition, retries included.
    case ordered
    /// Several records of a partition in flight at once.
    case unordered
}

/// `sources.knative.dev/v1` (and `v1beta1`) KafkaSource.
public struct KafkaSourceManifest: Sendable {
    public var meta: ObjectMeta
    public var bootstrapServers: [String]
    public var topics: [String]
    /// `spec.consumerGroup`; Knative generates `knative-kafka-source-<uid>` when it is empty.
    /// Sluice has no uid and uses `knative-kafka-source-<namespace>-<name>`, which stays the
    /// same across restarts.
    public var consumerGroup: String
    public var initialOffset: KafkaInitialOffset
    public var consumers: Int
    public var ordering: KafkaDeliveryOrder
    public var sink: Destination
    public var delivery: DeliverySpec?
    /// `spec.ceOverrides.extensions`, set on every event.
    public var ceOverrides: [(name: String, value: String)]
    public var net: KafkaNetSpec
    /// The label `kafkasources.sources.knative.dev/key-type`: string, int, float, byte-array.
    public var keyType: String
}

/// `eventing.knative.dev/v1alpha1` KafkaSink.
public struct KafkaSinkManifest: Sendable {
    public var meta: ObjectMeta
    public var topic: String
    public var bootstrapServers: [String]
    /// binary (default) or structured.
    public var contentMode: String
    /// `spec.auth.secret.ref.name`: a Secret in Knative's Kafka auth format (`protocol`,
    /// `sasl.mechanism`, `user`, `password`, `ca.crt`, `user.crt`, `user.key`).
    public var authSecret: String?
    public var authLocation: SourceLocation
}

/// A Kafka-class broker's topic and cluster (`eventing.knative.dev/broker.class: Kafka`), from
/// the ConfigMap its `spec.config` names (Knative's `kafka-broker-config`: `bootstrap.servers`,
/// `default.topic.partitions`, `default.topic.replication.factor`) and its annotations.
public struct KafkaBrokerSettings: Sendable, Equatable {
    public static let brokerClass = "Kafka"
    public static let externalTopicAnnotation = "kafka.eventing.knative.dev/external.topic"
    public static let orderingAnnotation = "kafka.eventing.knative.dev/delivery.order"

    public var bootstrapServers: [String]
    /// `knative-broker-<namespace>-<name>`, or the external topic.
    public var topic: String
    public var partitions: Int
    public var replicationFactor: Int
    /// The user's own topic (the annotation): Sluice never creates it.
    public var externalTopic: Bool
    /// Client tuning from Knative's `config-kafka-broker-data-plane` ConfigMap: the Java
    /// properties text of its consumer and producer keys ("" when absent).
    public var consumerTuning: String
    public var producerTuning: String
    /// A trigger's or subscription's consumer group is this followed by its name: Knative's
    /// `knative-trigger-<ns>-` for a broker, `kafka.<ns>.<channel>.` for a KafkaChannel (whose
    /// groups Knative ends with the subscription's UID, which manifests do not carry).
    public var groupPrefix: String
    /// Client properties from the auth Secret the ConfigMap names (`auth.secret.ref.name`):
    /// `security.protocol`, `sasl.*`, `ssl.*.pem`.
    public var authProperties: [String: String] = [:]
    /// How long the topic keeps records (`retention.ms` at creation); nil: the cluster's default.
    public var retentionMilliseconds: Int64?

    public init(bootstrapServers: [String], topic: String, partitions: Int, replicationFactor: Int, externalTopic: Bool,
                consumerTuning: String = "", producerTuning: String = "", groupPrefix: String = "") {
        self.groupPrefix = groupPrefix
        self.bootstrapServers = bootstrapServers
        self.topic = topic
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.externalTopic = externalTopic
        self.consumerTuning = consumerTuning
        self.producerTuning = producerTuning
    }

    /// The consumer group of the trigger or subscription `name`.
    public func consumerGroup(for name: String) -> String { groupPrefix + name }

    /// Sluice's compacted topic of retry schedules, beside the events' topic.
    public var retryStateTopic: String { topic + ".retry-state" }

    /// A KafkaChannel's settings but its servers (from `kafka-channel-config`, later): Knative's
    /// topic `knative-messaging-kafka.<namespace>.<name>`, a group per subscription.
    static func kafkaChannel(namespace: String, name: String, template: KafkaChannelTemplate) -> KafkaBrokerSettings {
        var settings = KafkaBrokerSettings(bootstrapServers: [], topic: "knative-messaging-kafka.\(namespace).\(name)",
                                           partitions: template.partitions, replicationFactor: template.replicationFactor, externalTopic: false,
                                           groupPrefix: "kafka.\(namespace).\(name).")
        settings.retentionMilliseconds = template.retentionMilliseconds
        return settings
    }
}
