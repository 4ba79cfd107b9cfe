import SluiceConfig
import Testing

@Suite("Kafka manifests")
struct KafkaManifestTests {
    private func load(_ yaml: String) throws -> ManifestSet {
        try ManifestLoader.load(files: [(name: "k.yaml", contents: yaml)])
    }

    private func problems(_ yaml: String) -> [String] {
        do { _ = try ManifestLoader.load(files: [(name: "k.yaml", contents: yaml)]) } catch { return error.problems.map(\.description) }
        return []
    }

    @Test("a Kafka-class broker takes its cluster and topic from its ConfigMap, and its tuning from the data-plane one")
    func kafkaClassBroker() throws {
        let set = try load("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: team-kafka, namespace: shop}
            data: {bootstrap.servers: "a:9092, b:9092", default.topic.partitions: "4"}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: config-kafka-broker-data-plane, namespace: knative-eventing}
            data: {config-kafka-broker-consumer.properties: "session.timeout.ms=6000"}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: orders
              namespace: shop
              annotations: {eventing.knative.dev/broker.class: Kafka}
            spec:
              config: {apiVersion: v1, kind: ConfigMap, name: team-kafka}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: mine
              namespace: shop
              annotations: {eventing.knative.dev/broker.class: Kafka, kafka.eventing.knative.dev/external.topic: my-topic}
            spec:
              config: {apiVersion: v1, kind: ConfigMap, name: team-kafka, namespace: shop}
            """)
        let orders = try #require(set.broker(namespace: "shop", name: "orders")?.kafka)
        #expect(orders == KafkaBrokerSettings(bootstrapServers: ["a:9092", "b:9092"], topic: "knative-broker-shop-orders", partitions: 4,
                                              replicationFactor: 3, externalTopic: false, consumerTuning: "session.timeout.ms=6000",
                                              groupPrefix: "knative-trigger-shop-"))
        let mine = try #require(set.broker(namespace: "shop", name: "mine")?.kafka)
        #expect(mine.topic == "my-topic" && mine.externalTopic)
        #expect(orders.consumerGroup(for: "t") == "knative-trigger-shop-t")

        let bad = problems("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kafka-broker-config, namespace: knative-eventing}
            data: {default.topic.partitions: "many"}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: b
              annotations: {eventing.knative.dev/broker.class: Kafka}
            """)
        #expect(bad.contains { $0.hasPrefix("k.yaml:1:") && $0.contains("bootstrap.servers is missing") }, "\(bad)")
    }

    @Test("a KafkaSource reads every field, with Knative's defaults where absent")
    func source() throws {
        let set = try load("""
            apiVersion: sources.knative.dev/v1beta1
            kind: KafkaSource
            metadata:
              name: orders
              namespace: shop
              annotations: {kafka.eventing.knative.dev/delivery.order: unordered}
              labels: {kafkasources.sources.knative.dev/key-type: int}
            spec:
              bootstrapServers: ["a:9092,b:9092", "c:9092"]
              topics: [one, two]
              consumers: 3
              ceOverrides: {extensions: {team: blue}}
              net:
                sasl:
                  enable: true
                  user: {secretKeyRef: {name: creds, key: user}}
                  password: {secretKeyRef: {name: creds, key: password}}
              sink: {uri: "http://example.com/x"}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: creds, namespace: shop}
            stringData: {user: alice, password: secret}
            """)
        let source = try #require(set.kafkaSources.first)
        #expect(source.bootstrapServers == ["a:9092", "b:9092", "c:9092"])
        #expect(source.topics == ["one", "two"])
        #expect(source.consumerGroup == "knative-kafka-source-shop-orders")
        #expect(source.initialOffset == .latest)
        #expect(source.ordering == .unordered)
        #expect(source.consumers == 3)
        #expect(source.keyType == "int")
        #expect(source.ceOverrides.map(\.name) == ["team"])
        let properties = Dictionary(KafkaAuthSecret.properties(source.net, namespace: "shop", in: set).map { ($0.key, $0.value) }) { $1 }
        #expect(properties["security.protocol"] == "sasl_plaintext")
        #expect(properties["sasl.mechanisms"] == "PLAIN" && properties["sasl.username"] == "alice" && properties["sasl.password"] == "secret")
    }

    @Test("spec.ordering wins over the annotation; ordered is the default")
    func ordering() throws {
        let base = """
            apiVersion: sources.knative.dev/v1
            kind: KafkaSource
            metadata: {name: s, annotations: {kafka.eventing.knative.dev/delivery.order: unordered}}
            spec:
              bootstrapServers: ["k:9092"]
              topics: [t]
              sink: {uri: "http://x/"}
            """
        #expect(try load(base + "\n  ordering: ordered").kafkaSources.first?.ordering == .ordered)
        #expect(try load(base.replacingOccurrences(of: ", annotations: {kafka.eventing.knative.dev/delivery.order: unordered}", with: ""))
            .kafkaSources.first?.ordering == .ordered)
    }

    @Test("configuration errors are file:line problems")
    func sourceProblems() {
        let found = problems("""
            apiVersion: sources.knative.dev/v1
            kind: KafkaSource
            metadata: {name: s}
            spec:
              bootstrapServers: []
              topics: []
              initialOffset: middle
              ordering: sideways
              net:
                tls:
                  enable: true
                  caCert: {secretKeyRef: {name: missing, key: ca.crt}}
              sink: {uri: "http://x/"}
            ---
            apiVersion: eventing.knative.dev/v1alpha1
            kind: KafkaSink
            metadata: {name: out}
            spec:
              topic: "bad topic"
              bootstrapServers: ["k"]
              contentMode: xml
              auth: {secret: {ref: {name: kafka-auth}}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: kafka-auth}
            stringData: {protocol: SASL_SSL, sasl.mechanism: OAUTH}
            """)
        let expected = [
            "k.yaml:5: KafkaSource default/s: bootstrapServers must name at least one server",
            "k.yaml:6: KafkaSource default/s: topics must name at least one topic",
            "k.yaml:7: KafkaSource default/s: initialOffset \"middle\" is not one of the accepted values",
            "k.yaml:8: KafkaSource default/s: ordering \"sideways\" is not one of the accepted values",
            "k.yaml:12: KafkaSource default/s: Secret \"missing\" does not exist in namespace default",
            "k.yaml:19: KafkaSink default/out: topic \"bad topic\" is not a valid Kafka topic name",
            "k.yaml:20: KafkaSink default/out: bootstrap server \"k\" needs a port (host:port)",
            "k.yaml:21: KafkaSink default/out: contentMode must be binary or structured, not \"xml\"",
            "k.yaml:22: KafkaSink default/out: Secret \"kafka-auth\" sasl.mechanism \"OAUTH\" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            "k.yaml:22: KafkaSink default/out: Secret \"kafka-auth\" has no key \"user\" (needed for SASL_SSL)",
            "k.yaml:22: KafkaSink default/out: Secret \"kafka-auth\" has no key \"password\" (needed for SASL_SSL)",
        ]
        for line in expected { #expect(found.contains(line), "missing \(line) in \(found)") }
    }

    @Test("a KafkaSink's auth Secret becomes client properties")
    func sinkAuth() throws {
        let set = try load("""
            apiVersion: eventing.knative.dev/v1alpha1
            kind: KafkaSink
            metadata: {name: out}
            spec:
              topic: events
              bootstrapServers: ["k:9093"]
              auth: {secret: {ref: {name: kafka-auth}}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: kafka-auth}
            stringData: {protocol: SASL_SSL, sasl.mechanism: SCRAM-SHA-512, user: u, password: p, ca.crt: CA}
            """)
        let sink = try #require(set.kafkaSinks.first)
        #expect(sink.contentMode == "binary")
        let secret = try #require(set.secret(namespace: "default", name: "kafka-auth"))
        let properties = Dictionary(KafkaAuthSecret.properties(secret.data).map { ($0.key, $0.value) }) { $1 }
        #expect(properties == ["security.protocol": "sasl_ssl", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u",
                               "sasl.password": "p", "ssl.ca.pem": "CA"])
    }

    @Test("a Kafka-class broker's and a KafkaChannel's ConfigMaps name their auth Secret; a KafkaChannel sets its retention")
    func brokerAuthAndRetention() throws {
        let secret = """
            apiVersion: v1
            kind: Secret
            metadata: {name: kafka-auth, namespace: knative-eventing}
            stringData: {protocol: SASL_PLAINTEXT, sasl.mechanism: PLAIN, user: u, password: p}
            """
        let set = try load("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kafka-broker-config, namespace: knative-eventing}
            data: {bootstrap.servers: "k:9092", auth.secret.ref.name: kafka-auth}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kafka-channel-config, namespace: knative-eventing}
            data: {bootstrap.servers: "k:9092", auth.secret.ref.name: kafka-auth, auth.secret.ref.namespace: knative-eventing}
            ---
            \(secret)
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: b
              namespace: shop
              annotations: {eventing.knative.dev/broker.class: Kafka}
            ---
            apiVersion: messaging.knative.dev/v1beta1
            kind: KafkaChannel
            metadata: {name: c, namespace: shop}
            spec: {numPartitions: 3, retentionDuration: PT2H}
            """)
        let expected = ["security.protocol": "sasl_plaintext", "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": "p"]
        #expect(set.broker(namespace: "shop", name: "b")?.kafka?.authProperties == expected)
        let channel = try #require(set.channels.first?.kafka)
        #expect(channel.authProperties == expected)
        #expect(channel.retentionMilliseconds == 7_200_000 && channel.partitions == 3)
        #expect(channel.retryStateTopic == "knative-messaging-kafka.shop.c.retry-state")

        let missing = problems("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kafka-broker-config, namespace: knative-eventing}
            data: {bootstrap.servers: "k:9092", auth.secret.ref.name: nowhere}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: b
              annotations: {eventing.knative.dev/broker.class: Kafka}
            ---
            apiVersion: messaging.knative.dev/v1beta1
            kind: KafkaChannel
            metadata: {name: c}
            spec: {retentionDuration: forever}
            """)
        #expect(missing.contains { $0.hasPrefix("k.yaml:1:") && $0.contains("Secret \"nowhere\" does not exist in namespace knative-eventing") }, "\(missing)")
        #expect(missing.contains { $0.contains("retentionDuration must be a positive ISO-8601 duration") }, "\(missing)")
    }
}
