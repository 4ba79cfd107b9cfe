/// Checks that need the whole set: duplicate objects and references between objects.
enum ManifestValidation {
    static func checkReferences(_ set: ManifestSet, _ diagnostics: Diagnostics) {
        var seen: [String: SourceLocation] = [:]
        func checkUnique(_ kind: String, _ meta: ObjectMeta, madeBy: String? = nil) {
            let key = "\(kind) \(meta.namespace)/\(meta.name)"
            if let first = seen[key], let madeBy {
                diagnostics.error(meta.location, "\(madeBy) makes \(key), which is also declared at \(first)")
            } else if let first = seen[key] {
                diagnostics.error(meta.location, "\(key) is declared twice (first at \(first))")
            } else {
                seen[key] = meta.location
            }
        }
        for broker in set.brokers { checkUnique("Broker", broker.meta) }
        for trigger in set.triggers { checkUnique("Trigger", trigger.meta) }
        for configMap in set.configMaps { checkUnique("ConfigMap", configMap.meta) }
        for secret in set.secrets { checkUnique("Secret", secret.meta) }
        for source in set.kafkaSources { checkUnique("KafkaSource", source.meta) }
        for sink in set.kafkaSinks { checkUnique("KafkaSink", sink.meta) }
        for source in set.rabbitmqSources { checkUnique("RabbitmqSource", source.meta) }
        // Channels of every kind share one name space, as a Channel and its backing
        // InMemoryChannel share a name in Knative; a flow's channels and subscriptions count too.
        for channel in set.channels { checkUnique("Channel", channel.meta, madeBy: channel.madeBy) }
        for subscription in set.subscriptions { checkUnique("Subscription", subscription.meta, madeBy: subscription.madeBy) }
        for sequence in set.sequences { checkUnique("Sequence", sequence.meta) }
        for parallel in set.parallels { checkUnique("Parallel", parallel.meta) }
        for source in set.pingSources { checkUnique("PingSource", source.meta) }

        // Secrets a Kafka resource reads must exist and hold the keys it names.
        for source in set.kafkaSources {
            for reference in source.net.references {
                let context = "KafkaSource \(source.meta.namespace)/\(source.meta.name)"
                guard let secret = set.secret(namespace: source.meta.namespace, name: reference.name) else {
                    diagnostics.error(reference.location, "\(context): Secret \"\(reference.name)\" does not exist in namespace \(source.meta.namespace)")
                    continue
                }
                if secret.data[reference.key] == nil {
                    diagnostics.error(reference.location, "\(context): Secret \"\(reference.name)\" has no key \"\(reference.key)\"")
                }
            }
        }
        for sink in set.kafkaSinks {
            guard let name = sink.authSecret else { continue }
            let context = "KafkaSink \(sink.meta.namespace)/\(sink.meta.name)"
            guard let secret = set.secret(namespace: sink.meta.namespace, name: name) else {
                diagnostics.error(sink.authLocation, "\(context): Secret \"\(name)\" does not exist in namespace \(sink.meta.namespace)")
                continue
            }
            for problem in KafkaAuthSecret.problems(secret.data) {
                diagnostics.error(sink.authLocation, "\(context): Secret \"\(name)\" \(problem)")
            }
        }

        // A RabbitmqSource's connection Secret must exist and say where to connect.
        for source in set.rabbitmqSources {
            let context = "RabbitmqSource \(source.meta.namespace)/\(source.meta.name)"
            guard let secret = set.secret(namespace: source.secretNamespace, name: source.connectionSecret) else {
                diagnostics.error(source.secretLocation, "\(context): Secret \"\(source.connectionSecret)\" does not exist in namespace \(source.secretNamespace)")
                continue
            }
            if case .failure(let problem) = RabbitmqConnection.parse(secret.data) {
                diagnostics.error(source.secretLocation, "\(context): Secret \"\(source.connectionSecret)\" \(problem)")
            }
        }

        // As for triggers: the subscription waits for its channel.
        for subscription in set.subscriptions where subscription.madeBy == nil
            && set.channel(namespace: subscription.channel.namespace ?? subscription.meta.namespace, name: subscription.channel.name) == nil {
            let namespace = subscription.channel.namespace ?? subscription.meta.namespace
            diagnostics.warning(subscription.channelLocation,
                                "Subscription \(subscription.meta.namespace)/\(subscription.meta.name): channel \"\(subscription.channel.name)\" does not exist in namespace \(namespace); the subscription stays inactive until it appears")
        }

        // Knative accepts such a trigger and marks it not ready; so does Sluice: it stays
        // inactive until its broker appears (on a reload).
        for trigger in set.triggers where set.broker(namespace: trigger.meta.namespace, name: trigger.broker) == nil {
            diagnostics.warning(trigger.brokerLocation,
                                "Trigger \(trigger.meta.namespace)/\(trigger.meta.name): broker \"\(trigger.broker)\" does not exist in namespace \(trigger.meta.namespace); the trigger stays inactive until it appears")
        }
    }
}
