/// The metric and label names Sluice exports. Knative's own (since its move to OpenTelemetry,
/// as Prometheus names them) come first, so dashboards built for Knative's brokers work
/// unchanged; Sluice's own follow.
public enum MetricNames {
    /// Histogram, seconds, buckets 5 ms to 10 s: an ingress request (labels: broker, event
    /// type, status) or a delivery attempt to a subscriber (labels: broker, trigger, event
    /// type, status), as Knative's ingress and filter record it.
    public static let dispatchDuration = "kn_eventing_dispatch_duration_seconds"
    /// Histogram, seconds: how long an event waited in the broker before its delivery started
    /// (labels: broker, trigger, event type), as Knative's filter records processing.
    public static let processDuration = "kn_eventing_process_duration_seconds"

    public static let residentMemory = "process_resident_memory_bytes"
    public static let openConnections = "sluice_http_open_connections"
}

/// Label names, as Knative spells them in Prometheus.
public enum LabelNames {
    public static let brokerName = "kn_broker_name"
    public static let brokerNamespace = "kn_broker_namespace"
    public static let triggerName = "kn_trigger_name"
    /// A channel's and a subscription's (Knative's `kn.channel.*`, `kn.subscription.name`).
    public static let channelName = "kn_channel_name"
    public static let channelNamespace = "kn_channel_namespace"
    public static let subscriptionName = "kn_subscription_name"
    public static let eventType = "cloudevents_type"
    public static let statusCode = "http_response_status_code"
    /// A source's name and namespace (Knative's `kn.source.*`), a sink's (`kn.sink.*`).
    public static let sourceName = "kn_source_name"
    public static let sourceNamespace = "kn_source_namespace"
    public static let sinkName = "kn_sink_name"
    public static let sinkNamespace = "kn_sink_namespace"
    /// The Kafka topic and partition (OpenTelemetry messaging conventions, as Knative's Kafka
    /// data plane tags them).
    public static let destinationName = "messaging_destination_name"
    public static let partitionID = "messaging_destination_partition_id"
    public static let consumerGroup = "messaging_consumer_group_name"
}

/// How the metrics of one process are made.
public struct MetricsOptions: Sendable {
    /// Whether `cloudevents_type` is a label (Knative's cardinality switch turns it off).
    public var labelsEventType = true
    /// Distinct event types one metric keeps apart per loop before it files the rest as
    /// "other": event types come from producers, so their number must be bounded.
    public var maxEventTypes = 64

    public init(labelsEventType: Bool = true, maxEventTypes: Int = 64) {
        self.labelsEventType = labelsEventType
        self.maxEventTypes = maxEventTypes
    }
}
