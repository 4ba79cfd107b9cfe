/// Channels and Subscriptions (`messaging.knative.dev/v1`), Sequence and Parallel
/// (`flows.knative.dev/v1`).
extension ResourceDecoder {
    static func channel(_ document: YAMLNode, kind: String) -> ChannelManifest? {
        guard let meta = meta(document, kind: kind) else { return nil }
        let context = "\(kind) \(meta.namespace)/\(meta.name)"
        let spec = document.mapping("spec", context: context)
        let delivery = spec.flatMap { $0.mapping("delivery", context: context) }.map { deliverySpec($0, context: context) }
        // A KafkaChannel's settings are its spec; a Channel's are its template's, when that is one.
        var kafka: KafkaBrokerSettings?
        if kind == "KafkaChannel" {
            kafka = kafkaChannel(spec, meta: meta, context: context)
        } else if let template = spec.flatMap({ $0.mapping("channelTemplate", context: context) }),
                  channelTemplate(template, context: context, allowKafka: true) == "KafkaChannel" {
            kafka = kafkaChannel(template.mapping("spec", context: "\(context) channelTemplate"), meta: meta, context: context)
        }
        return ChannelManifest(meta: meta, kind: kind, delivery: delivery, kafka: kafka)
    }

    private static func kafkaChannel(_ spec: YAMLNode?, meta: ObjectMeta, context: String) -> KafkaBrokerSettings {
        .kafkaChannel(namespace: meta.namespace, name: meta.name, template: kafkaTemplate(spec, location: meta.location, context: context))
    }

    /// `numPartitions` (1), `replicationFactor` (1) and `retentionDuration` (PT168H), as
    /// Knative's KafkaChannel defaults them.
    private static func kafkaTemplate(_ spec: YAMLNode?, location: SourceLocation, context: String) -> KafkaChannelTemplate {
        func count(_ key: String) -> Int {
            guard let value = spec?.int(key, context: context) else { return 1 }
            if value < 1 || value > 10_000 {
                spec?.diagnostics.error(spec?[key]?.location ?? location, "\(context): \(key) must be between 1 and 10000")
            }
            return max(1, value)
        }
        var template = KafkaChannelTemplate(partitions: count("numPartitions"), replicationFactor: count("replicationFactor"))
        if let text = spec?.string("retentionDuration", context: context) {
            if let duration = ISO8601Duration.parse(text), duration > .zero {
                template.retentionMilliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            } else {
                spec?.diagnostics.error(spec?["retentionDuration"]?.location ?? location,
                                        "\(context): retentionDuration must be a positive ISO-8601 duration such as PT168H, not \"\(text)\"")
            }
        }
        return template
    }

    /// A flow's `channelTemplate`: nil for InMemoryChannel (or none), its numbers for KafkaChannel.
    private static func flowTemplate(_ spec: YAMLNode, context: String) -> KafkaChannelTemplate? {
        guard let template = spec.mapping("channelTemplate", context: context),
              channelTemplate(template, context: context, allowKafka: true) == "KafkaChannel" else { return nil }
        return kafkaTemplate(template.mapping("spec", context: "\(context) channelTemplate"), location: template.location, context: context)
    }

    static func subscription(_ document: YAMLNode) -> SubscriptionManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "Subscription") else { return nil }
        let diagnostics = document.diagnostics
        guard let channelNode = spec.mapping("channel", context: context) else {
            diagnostics.error(spec.location, "\(context): missing channel")
            return nil
        }
        guard let channel = reference(channelNode, context: "\(context) channel") else { return nil }
        if let namespace = channel.namespace, namespace != meta.namespace {
            diagnostics.error(channelNode.location, "\(context): the channel must be in the subscription's namespace (\(meta.namespace)), not \(namespace)")
        }
        if !channelKinds.contains(channel.kind) {
            diagnostics.error(channelNode.location, "\(context): channel kind \(channel.kind) is not a channel (\(channelKinds.sorted().joined(separator: ", ")))")
        }
        let subscriber = spec.mapping("subscriber", context: context).flatMap { destination($0, context: "\(context) subscriber") }
        let reply = spec.mapping("reply", context: context).flatMap { destination($0, context: "\(context) reply") }
        if subscriber == nil && reply == nil && spec["subscriber"] == nil && spec["reply"] == nil {
            diagnostics.error(spec.location, "\(context): needs a subscriber or a reply")
        }
        let delivery = spec.mapping("delivery", context: context).map { deliverySpec($0, context: context) }
        return SubscriptionManifest(meta: meta, channel: channel, channelLocation: channelNode.location,
                                    subscriber: subscriber, reply: reply, delivery: delivery)
    }

    static func sequence(_ document: YAMLNode) -> SequenceManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "Sequence") else { return nil }
        let kafkaTemplate = flowTemplate(spec, context: context)
        guard let items = spec.sequence("steps", context: context), !items.isEmpty else {
            document.diagnostics.error(spec.location, "\(context): needs at least one step")
            return nil
        }
        var steps: [SequenceStep] = []
        for (index, item) in items.enumerated() {
            let stepContext = "\(context) steps[\(index)]"
            guard let target = destination(item, context: stepContext) else { continue }
            steps.append(SequenceStep(destination: target, delivery: item.mapping("delivery", context: stepContext).map { deliverySpec($0, context: stepContext) }))
        }
        let reply = spec.mapping("reply", context: context).flatMap { destination($0, context: "\(context) reply") }
        return SequenceManifest(meta: meta, steps: steps, reply: reply, kafkaTemplate: kafkaTemplate)
    }

    static func parallel(_ document: YAMLNode) -> ParallelManifest? {
        guard let (meta, context, spec) = withSpec(document, kind: "Parallel") else { return nil }
        let kafkaTemplate = flowTemplate(spec, context: context)
        guard let items = spec.sequence("branches", context: context), !items.isEmpty else {
            document.diagnostics.error(spec.location, "\(context): needs at least one branch")
            return nil
        }
        var branches: [ParallelBranch] = []
        for (index, item) in items.enumerated() {
            let branchContext = "\(context) branches[\(index)]"
            guard let subscriberNode = item.mapping("subscriber", context: branchContext) else {
                document.diagnostics.error(item.location, "\(branchContext): missing subscriber")
                continue
            }
            guard let subscriber = destination(subscriberNode, context: "\(branchContext) subscriber") else { continue }
            branches.append(ParallelBranch(
                filter: item.mapping("filter", context: branchContext).flatMap { destination($0, context: "\(branchContext) filter") },
                subscriber: subscriber,
                reply: item.mapping("reply", context: branchContext).flatMap { destination($0, context: "\(branchContext) reply") },
                delivery: item.mapping("delivery", context: branchContext).map { deliverySpec($0, context: branchContext) }))
        }
        let reply = spec.mapping("reply", context: context).flatMap { destination($0, context: "\(context) reply") }
        return ParallelManifest(meta: meta, branches: branches, reply: reply, kafkaTemplate: kafkaTemplate)
    }

    /// The kinds a Subscription's channel may name.
    static let channelKinds: Set<String> = ["InMemoryChannel", "Channel", "KafkaChannel"]

    /// A `channelTemplate`'s kind, which must be one Sluice serves: InMemoryChannel, or
    /// KafkaChannel where `allowKafka`.
    @discardableResult
    private static func channelTemplate(_ node: YAMLNode, context: String, allowKafka: Bool = false) -> String? {
        guard let kind = node.string("kind", required: true, context: "\(context) channelTemplate") else { return nil }
        let served: Set<String> = allowKafka ? ["InMemoryChannel", "KafkaChannel"] : ["InMemoryChannel"]
        if !served.contains(kind) {
            node.diagnostics.error(node["kind"]?.location ?? node.location,
                                   "\(context): channelTemplate kind \(kind) is not served by this version of Sluice (\(served.sorted().joined(separator: ", ")))")
        }
        return kind
    }
}
