/// Sequences and Parallels become the channels and subscriptions Knative's controllers make of
/// them, with Knative's names, so every hop is a channel delivery: durable, retried and
/// dead-lettered like any other (`pkg/reconciler/{sequence,parallel}/resources`). A Sequence
/// is addressed at its first channel, a Parallel at its ingress channel.
public enum FlowLowering {
    public static func expand(_ set: inout ManifestSet) {
        for sequence in set.sequences { expand(sequence, into: &set) }
        for parallel in set.parallels { expand(parallel, into: &set) }
    }

    /// `<sequence>-kn-sequence-<step>`: the channel in front of a step, and its subscription.
    public static func sequenceChannelName(_ sequence: String, step: Int) -> String { "\(sequence)-kn-sequence-\(step)" }
    /// `<parallel>-kn-parallel`: where a Parallel's events arrive.
    public static func parallelIngressName(_ parallel: String) -> String { "\(parallel)-kn-parallel" }
    /// `<parallel>-kn-parallel-<branch>`: the channel after a branch's filter, and its subscription.
    static func parallelBranchName(_ parallel: String, branch: Int) -> String { "\(parallel)-kn-parallel-\(branch)" }

    private static func expand(_ sequence: SequenceManifest, into set: inout ManifestSet) {
        let madeBy = "Sequence \(sequence.meta.namespace)/\(sequence.meta.name)"
        let channels = sequence.steps.indices.map { sequenceChannelName(sequence.meta.name, step: $0) }
        for (index, step) in sequence.steps.enumerated() {
            set.channels.append(channel(channels[index], of: sequence.meta, madeBy: madeBy, template: sequence.kafkaTemplate))
            let reply = index + 1 < channels.count ? destination(channels[index + 1], of: sequence.meta) : sequence.reply
            set.subscriptions.append(subscription(channels[index], to: channels[index], of: sequence.meta, subscriber: step.destination,
                                                  reply: reply, delivery: step.delivery, madeBy: madeBy))
        }
    }

    private static func expand(_ parallel: ParallelManifest, into set: inout ManifestSet) {
        let meta = parallel.meta
        let madeBy = "Parallel \(meta.namespace)/\(meta.name)"
        let ingress = parallelIngressName(meta.name)
        set.channels.append(channel(ingress, of: meta, madeBy: madeBy, template: parallel.kafkaTemplate))
        for (index, branch) in parallel.branches.enumerated() {
            let branchChannel = parallelBranchName(meta.name, branch: index)
            set.channels.append(channel(branchChannel, of: meta, madeBy: madeBy, template: parallel.kafkaTemplate))
            // With no filter the subscription has no subscriber: events go straight to the branch.
            set.subscriptions.append(subscription("\(meta.name)-kn-parallel-filter-\(index)", to: ingress, of: meta, subscriber: branch.filter,
                                                  reply: destination(branchChannel, of: meta), delivery: branch.delivery, madeBy: madeBy))
            set.subscriptions.append(subscription(branchChannel, to: branchChannel, of: meta, subscriber: branch.subscriber,
                                                  reply: branch.reply ?? parallel.reply, delivery: branch.delivery, madeBy: madeBy))
        }
    }

    /// One of a flow's channels: a KafkaChannel when the flow's template is one.
    private static func channel(_ name: String, of owner: ObjectMeta, madeBy: String, template: KafkaChannelTemplate?) -> ChannelManifest {
        let kafka = template.map { KafkaBrokerSettings.kafkaChannel(namespace: owner.namespace, name: name, template: $0) }
        return ChannelManifest(meta: made(name, of: owner), kind: kafka == nil ? "InMemoryChannel" : "KafkaChannel", delivery: nil,
                               madeBy: madeBy, kafka: kafka)
    }

    private static func subscription(_ name: String, to channel: String, of owner: ObjectMeta, subscriber: Destination?,
                                     reply: Destination?, delivery: DeliverySpec?, madeBy: String) -> SubscriptionManifest {
        SubscriptionManifest(meta: made(name, of: owner), channel: channelReference(channel), channelLocation: owner.location,
                             subscriber: subscriber, reply: reply, delivery: delivery, madeBy: madeBy)
    }

    private static func made(_ name: String, of owner: ObjectMeta) -> ObjectMeta {
        ObjectMeta(name: name, namespace: owner.namespace, annotations: [:], labels: [:], location: owner.location)
    }

    private static func channelReference(_ name: String) -> KReference {
        KReference(apiVersion: "messaging.knative.dev/v1", kind: "InMemoryChannel", name: name, namespace: nil)
    }

    private static func destination(_ channel: String, of owner: ObjectMeta) -> Destination {
        Destination(ref: channelReference(channel), uri: nil, location: owner.location)
    }
}
