import SluiceConfig
import Testing

@Suite("Channels, Subscriptions and flows: reading and lowering")
struct FlowManifestTests {
    private func load(_ yaml: String) throws -> ManifestSet {
        try ManifestLoader.load(files: [(name: "f.yaml", contents: yaml)])
    }

    /// "subscription: channel -> subscriber => reply", for comparing wiring at a glance.
    private func wiring(_ set: ManifestSet) -> [String] {
        set.subscriptions.map { subscription in
            let subscriber = subscription.subscriber.map { $0.uri ?? $0.ref?.name ?? "?" } ?? "-"
            let reply = subscription.reply.map { $0.uri ?? $0.ref?.name ?? "?" } ?? "-"
            return "\(subscription.meta.name): \(subscription.channel.name) -> \(subscriber) => \(reply)"
        }
    }

    @Test func aSequenceBecomesAChannelAndASubscriptionPerStep() throws {
        let set = try load("""
            apiVersion: flows.knative.dev/v1
            kind: Sequence
            metadata: {name: seq, namespace: ns}
            spec:
              steps:
                - uri: http://a/
                - uri: http://b/
                  delivery: {retry: 7}
              reply: {uri: http://end/}
            """)
        #expect(set.channels.map(\.meta.name) == ["seq-kn-sequence-0", "seq-kn-sequence-1"])
        #expect(set.channels.allSatisfy { $0.madeBy == "Sequence ns/seq" && $0.meta.namespace == "ns" })
        #expect(wiring(set) == ["seq-kn-sequence-0: seq-kn-sequence-0 -> http://a/ => seq-kn-sequence-1",
                                "seq-kn-sequence-1: seq-kn-sequence-1 -> http://b/ => http://end/"])
        #expect(set.subscriptions.map { $0.delivery?.retry } == [nil, 7])
        #expect(set.channels.allSatisfy { $0.kafka == nil })
    }

    @Test func aFlowWithAKafkaChannelTemplateIsMadeOfKafkaChannels() throws {
        let set = try load("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kafka-channel-config, namespace: knative-eventing}
            data: {bootstrap.servers: "k:9092"}
            ---
            apiVersion: flows.knative.dev/v1
            kind: Parallel
            metadata: {name: par, namespace: ns}
            spec:
              channelTemplate:
                apiVersion: messaging.knative.dev/v1beta1
                kind: KafkaChannel
                spec: {numPartitions: 3, replicationFactor: 2}
              branches:
                - subscriber: {uri: http://s0/}
            """)
        #expect(set.channels.map(\.kind) == ["KafkaChannel", "KafkaChannel"])
        let ingress = try #require(set.channels.first?.kafka)
        #expect(ingress.topic == "knative-messaging-kafka.ns.par-kn-parallel" && ingress.partitions == 3 && ingress.replicationFactor == 2)
        #expect(ingress.bootstrapServers == ["k:9092"] && ingress.consumerGroup(for: "s") == "kafka.ns.par-kn-parallel.s")
    }

    @Test func aParallelBecomesAnIngressChannelAndTwoSubscriptionsPerBranch() throws {
        let set = try load("""
            apiVersion: flows.knative.dev/v1
            kind: Parallel
            metadata: {name: par, namespace: ns}
            spec:
              branches:
                - filter: {uri: http://f0/}
                  subscriber: {uri: http://s0/}
                - subscriber: {uri: http://s1/}
                  reply: {uri: http://r1/}
              reply: {uri: http://all/}
            """)
        #expect(set.channels.map(\.meta.name) == ["par-kn-parallel", "par-kn-parallel-0", "par-kn-parallel-1"])
        #expect(wiring(set) == ["par-kn-parallel-filter-0: par-kn-parallel -> http://f0/ => par-kn-parallel-0",
                                "par-kn-parallel-0: par-kn-parallel-0 -> http://s0/ => http://all/",
                                "par-kn-parallel-filter-1: par-kn-parallel -> - => par-kn-parallel-1",
                                "par-kn-parallel-1: par-kn-parallel-1 -> http://s1/ => http://r1/"])
    }

    @Test func subscriptionsAndChannelsAreReadWithTheirProblems() throws {
        let set = try load("""
            apiVersion: messaging.knative.dev/v1
            kind: Channel
            metadata: {name: ch, namespace: ns}
            spec:
              channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
              delivery: {retry: 2}
            ---
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata: {name: sub, namespace: ns}
            spec:
              channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: ch}
              reply: {uri: http://r/}
            """)
        #expect(set.channels.first?.kind == "Channel" && set.channels.first?.delivery?.retry == 2)
        #expect(wiring(set) == ["sub: ch -> - => http://r/"])
        #expect(set.warnings.isEmpty)

        let bad = """
            apiVersion: messaging.knative.dev/v1
            kind: Subscription
            metadata: {name: bad, namespace: ns}
            spec:
              channel: {apiVersion: example.com/v1, kind: Widget, name: k, namespace: other}
            ---
            apiVersion: flows.knative.dev/v1
            kind: Sequence
            metadata: {name: templated, namespace: ns}
            spec:
              channelTemplate: {apiVersion: messaging.knative.dev/v1alpha1, kind: NatssChannel}
            """
        let error = try #require(throws: ConfigError.self) { try load(bad) }
        let messages = error.problems.map(\.description)
        #expect(messages.contains { $0.hasPrefix("f.yaml:5:") && $0.contains("subscription's namespace") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("f.yaml:5:") && $0.contains("Widget is not a channel") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("f.yaml:5:") && $0.contains("needs a subscriber or a reply") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("f.yaml:11:") && $0.contains("channelTemplate kind NatssChannel is not served") }, "\(messages)")
    }
}
