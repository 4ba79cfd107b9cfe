import SluiceTestSupport

/// Manifests the Kafka tests share (with `TestManifests.brokerAndTrigger`): a source feeding
/// the broker from `topic`, and the data-plane ConfigMap that shortens the consumer's session
/// (a killed Sluice's consumer leaves the mock cluster's group within seconds).
enum KafkaManifests {
    static func source(bootstrap: String, topic: String, sink: String = "ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}",
                       ordering: String = "ordered", extra: String = "", consumerProperties: [String] = []) -> String {
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
        \(consumerProperties.map { "    \($0)" }.joined(separator: "\n"))
        """
    }

    /// Knative's `kafka-broker-config` naming the mock cluster (topics of `partitions`), the
    /// data-plane ConfigMap with a short consumer session, and the Kafka-class broker
    /// `demo/default`.
    static func kafkaBrokerDefault(bootstrap: String, partitions: Int) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: kafka-broker-config, namespace: knative-eventing}
        data:
          bootstrap.servers: "\(bootstrap)"
          default.topic.partitions: "\(partitions)"
          default.topic.replication.factor: "1"
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: config-kafka-broker-data-plane, namespace: knative-eventing}
        data:
          config-kafka-broker-consumer.properties: |
            session.timeout.ms=6000
            heartbeat.interval.ms=500
          config-kafka-broker-producer.properties: |
            message.timeout.ms=3000
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata:
          name: default
          namespace: demo
          annotations: {eventing.knative.dev/broker.class: Kafka}
        spec:
          config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config, namespace: knative-eventing}
        """
    }

    /// A Kafka-class broker `demo/default` on the mock cluster, its trigger `all` (to `/all`,
    /// ordered or not) and, unless `onlyAll`, `typed` (type `b`, to `/typed`); both retry for
    /// long, 0.2 s apart.
    static func kafkaBroker(bootstrap: String, subscriber: Subscriber, onlyAll: Bool = false, ordered: Bool = false) -> String {
        let delivery = "  delivery: {retry: 1000, backoffPolicy: linear, backoffDelay: PT0.2S}\n"
        return """
            \(kafkaBrokerDefault(bootstrap: bootstrap, partitions: 2))
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata:
              name: all
              namespace: demo
              annotations: {kafka.eventing.knative.dev/delivery.order: \(ordered ? "ordered" : "unordered")}
            spec:
              broker: default
              subscriber: {uri: "\(subscriber.url("/all"))"}
            \(delivery)\(onlyAll ? "" : """
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: typed, namespace: demo}
            spec:
              broker: default
              filter: {attributes: {type: b}}
              subscriber: {uri: "\(subscriber.url("/typed"))"}
            \(delivery)
            """)
            """
    }

    /// Waits until both triggers' consumers have their partitions: a new trigger starts at the
    /// end of the topic, as in Knative, so events sent before that are not its.
    static func waitForAssignment(_ sluice: SluiceProcess, triggers: [String] = ["demo/all", "demo/typed"]) -> Bool {
        eventually(seconds: 30) {
            triggers.allSatisfy { sluice.standardError.contains("trigger=\($0)") }
                && sluice.standardError.components(separatedBy: "partitions assigned").count > triggers.count
        }
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
