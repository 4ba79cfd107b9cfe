import SluiceConfig
import SluiceDelivery
import SluiceFilter
import SluiceObservability

/// Subscriptions are a channel's triggers that match everything: the same queues, deliveries,
/// retries and dead letters, with Knative's channel rules for the rest. A subscriber's reply
/// goes to the subscription's `reply` (none: dropped); with no subscriber, events go straight
/// to `reply`; the delivery spec is the subscription's, else the channel's, and so is the
/// dead-letter sink.
extension TriggerReconciler {
    static func checkSubscriptions(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        manifests.subscriptions.flatMap { subscription in
            [subscription.subscriber, subscription.reply, subscription.delivery?.deadLetterSink].compactMap { $0 }.compactMap {
                DestinationResolver.problem($0, namespace: subscription.meta.namespace, manifests: manifests, options: options)
            }
        }
    }

    /// The subscriptions of every channel, by the channel's hub key, in name order.
    func planSubscriptions(_ manifests: ManifestSet) -> [String: [TriggerPlan]] {
        var plans: [String: [TriggerPlan]] = [:]
        var byChannel: [String: [SubscriptionManifest]] = [:]
        for subscription in manifests.subscriptions {
            let namespace = subscription.channel.namespace ?? subscription.meta.namespace
            guard namespace == subscription.meta.namespace else { continue }
            byChannel[Hub.key(.channel, namespace: namespace, name: subscription.channel.name), default: []].append(subscription)
        }
        for channel in manifests.channels {
            let hubKey = Hub.key(.channel, namespace: channel.meta.namespace, name: channel.meta.name)
            plans[hubKey] = (byChannel[hubKey] ?? []).sorted { $0.meta.name < $1.meta.name }.compactMap { subscription in
                let key = "subscription:\(subscription.meta.namespace)/\(subscription.meta.name)"
                guard let route = makeRoute(subscription, key: key, channel: channel) else {
                    logger.error("subscription \(subscription.meta.namespace)/\(subscription.meta.name) could not be built; skipped")
                    return nil
                }
                return TriggerPlan(key: key, filter: .always, route: route)
            }
        }
        return plans
    }

    private func makeRoute(_ subscription: SubscriptionManifest, key: String, channel: ChannelManifest) -> DeliveryRoute? {
        let namespace = subscription.meta.namespace
        let spec = subscription.delivery ?? channel.delivery
        let deadLetter = (spec?.deadLetterSink ?? channel.delivery?.deadLetterSink)
            .flatMap { DestinationResolver.resolve($0, namespace: namespace, controller: controller) }
        let reply = subscription.reply.flatMap { DestinationResolver.resolve($0, namespace: namespace, controller: controller) }
        let subscriber = subscription.subscriber.flatMap { DestinationResolver.resolve($0, namespace: namespace, controller: controller) }
        guard let target = subscriber ?? reply else { return nil }
        let monitor = deliveries[key]?.monitor ?? makeMonitor(subscription, channel: channel)
        return DeliveryRoute(monitor: monitor, subscriber: target, policy: DeliveryPolicy(spec, deadLetter: deadLetter),
                             replies: subscriber == nil ? nil : reply,
                             options: DeliveryOptions(headerLines: Array("Kn-Namespace: \(namespace)\r\n".utf8), format: spec?.format ?? .binary))
    }

    private func makeMonitor(_ subscription: SubscriptionManifest, channel: ChannelManifest) -> DeliveryMonitor {
        let labels = [(LabelNames.channelName, channel.meta.name), (LabelNames.channelNamespace, channel.meta.namespace),
                      (LabelNames.subscriptionName, subscription.meta.name)]
        let metrics = DeliveryMetrics(prefix: "sluice_subscription", labels: labels, factory: options.metricsFactory,
                                      options: options.metrics, shards: loops.count)
        return DeliveryMonitor(owner: DeliveryOwner(kind: "subscription", namespace: subscription.meta.namespace, name: subscription.meta.name),
                               metrics: metrics, logger: logger)
    }
}
