/// `messaging.knative.dev/v1` InMemoryChannel and Channel, and `v1beta1` KafkaChannel. An
/// InMemoryChannel is served like a default-class broker (durably by default, as `--storage`
/// says); a KafkaChannel, or a Channel whose `channelTemplate` is one, keeps its events in a
/// Kafka topic like a Kafka-class broker.
public struct ChannelManifest: Sendable {
    public var meta: ObjectMeta
    /// "InMemoryChannel" or "Channel".
    public var kind: String
    /// The default delivery of the channel's subscriptions.
    public var delivery: DeliverySpec?
    /// The Sequence or Parallel that made it ("Sequence ns/name"); nil for one declared.
    public var madeBy: String?
    /// A KafkaChannel (or a Channel whose template is one): its topic and cluster, completed
    /// from `kafka-channel-config` after loading.
    public var kafka: KafkaBrokerSettings?

    public init(meta: ObjectMeta, kind: String, delivery: DeliverySpec?, madeBy: String? = nil, kafka: KafkaBrokerSettings? = nil) {
        self.meta = meta
        self.kind = kind
        self.delivery = delivery
        self.madeBy = madeBy
        self.kafka = kafka
    }
}

/// `messaging.knative.dev/v1` Subscription: every event of `channel` goes to `subscriber`; a
/// reply event from it goes to `reply`. With no subscriber, events go straight to `reply`.
public struct SubscriptionManifest: Sendable {
    public var meta: ObjectMeta
    public var channel: KReference
    /// Where `spec.channel` is written.
    public var channelLocation: SourceLocation
    public var subscriber: Destination?
    public var reply: Destination?
    public var delivery: DeliverySpec?
    /// As for `ChannelManifest`.
    public var madeBy: String?
}

/// One step of a Sequence: a destination and its own delivery.
public struct SequenceStep: Sendable {
    public var destination: Destination
    public var delivery: DeliverySpec?
}

/// `flows.knative.dev/v1` Sequence: the steps in order, each step's reply feeding the next,
/// the last one's going to `reply`.
public struct SequenceManifest: Sendable {
    public var meta: ObjectMeta
    public var steps: [SequenceStep]
    public var reply: Destination?
    /// `channelTemplate` of kind KafkaChannel: the partitions and replication of each of its
    /// channels; nil for in-memory (served by `--storage`) channels.
    public var kafkaTemplate: KafkaChannelTemplate?
}

/// A flow's `channelTemplate` of kind KafkaChannel (`spec.numPartitions`, `replicationFactor`).
public struct KafkaChannelTemplate: Sendable {
    public var partitions: Int
    public var replicationFactor: Int
    /// `retentionDuration` (Knative's default is 168 hours).
    public var retentionMilliseconds: Int64 = 168 * 3_600_000
}

/// One branch of a Parallel: an optional filter (an event passes when the filter replies it),
/// the subscriber, and where the subscriber's replies go (else the Parallel's reply).
public struct ParallelBranch: Sendable {
    public var filter: Destination?
    public var subscriber: Destination
    public var reply: Destination?
    public var delivery: DeliverySpec?
}

/// `flows.knative.dev/v1` Parallel: every event goes to every branch.
public struct ParallelManifest: Sendable {
    public var meta: ObjectMeta
    public var branches: [ParallelBranch]
    public var reply: Destination?
    /// As for a Sequence.
    public var kafkaTemplate: KafkaChannelTemplate?
}

/// `sources.knative.dev/v1` PingSource: a fixed event on a cron schedule.
public struct PingSourceManifest: Sendable {
    public var meta: ObjectMeta
    /// 5-field cron or a macro (`@hourly`, `@every 10s`); Knative's default `* * * * *`.
    public var schedule: String
    public var scheduleLocation: SourceLocation
    /// An IANA zone name; nil: the process's own zone.
    public var timezone: String?
    public var timezoneLocation: SourceLocation
    /// `datacontenttype`; nil: none.
    public var contentType: String?
    /// `data`, or `dataBase64` decoded; nil: no data.
    public var data: [UInt8]?
    public var sink: Destination
    /// `spec.ceOverrides.extensions`, set on every event.
    public var ceOverrides: [(name: String, value: String)]
}
