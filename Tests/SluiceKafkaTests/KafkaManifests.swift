import SluiceTestSupport

/// Manifests the Kafka tests share (with `TestManifests.brokerAndTrigger`): a source feeding
/// the broker from `topic`, and the data-plane ConfigMap that shortens the consumer's session
/// (a killed Sluice's consumer leaves the mock cluster's group within seconds).
enum KafkaManifests {
    static func source(bootstrap: String, topic: String, sink: String = "ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}",
                       ordering: String = "ordered", extra: String = "") -> String {
        """
        apiVersion: sources.knative.dev/v1
        kind: KafkaSource
        metadata: {name: orders, namespace: demo}
        spec:
          bootstrapServers: ["\(bootstrap)"]
          topics: [\(topic)]
          initialOffset: earliest
          ordering: \(ordering)
          sink:
            \(sink)
        \(extra)
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: config-kafka-source-data-plane, namespace: knative-eventing}
        data:
          config-kafka-source-consumer.properties: |
            session.timeout.ms=6000
            heartbeat.interval.ms=500
            key.deserializer=org.apache.kafka.common.serialization.StringDeserializer
        """
    }

    static func sink(bootstrap: String, topic: String, name: String = "out", mode: String = "binary") -> String {
        """
        apiVersion: eventing.knative.dev/v1alpha1
        kind: KafkaSink
        metadata: {name: \(name), namespace: demo}
        spec:
          topic: \(topic)
          bootstrapServers: ["\(bootstrap)"]
          contentMode: \(mode)
        """
    }
}

extension Subscriber.Request {
    /// The event id in binary mode.
    var id: String { eventID ?? "" }
}
