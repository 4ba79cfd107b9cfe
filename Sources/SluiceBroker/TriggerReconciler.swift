import Logging
import SluiceConfig
import SluiceDelivery
import SluiceFilter
import SluiceIO
import SluiceObservability
import SluiceStorage

/// One trigger as configured now: its key, its compiled filter and where it delivers.
struct TriggerPlan {
    let key: String
    let filter: Filter
    let route: DeliveryRoute
    /// One event at a time, in order (Kafka-class triggers that ask for it).
    var ordered = false
}

/// Triggers: compiles each trigger's filter and delivery route (its own delivery spec, else its
/// broker's, else `config-br-defaults`), and runs one `QueueDelivery` per trigger queue,
/// updating the route of a trigger that stays and stopping (and releasing the metrics of) a
/// trigger that goes. A trigger whose broker is not in the manifests is inactive. Used under
/// the controller's lock.
final class TriggerReconciler {
    unowned let controller: DataPlaneController
    let loops: [EventLoop]
    private let deliverers: [Deliverer]
    let logger: Logger
    /// By trigger key ("namespace/name") or subscription key ("subscription:namespace/name").
    private(set) var deliveries: [String: QueueDelivery] = [:]

    init(controller: DataPlaneController, loops: [EventLoop], deliverers: [Deliverer], logger: Logger) {
        self.controller = controller
        self.loops = loops
        self.deliverers = deliverers
        self.logger = logger
    }

    var options: DataPlaneOptions { controller.options }

    /// Problems of triggers and subscriptions that only compiling and resolving find.
    static func check(_ manifests: ManifestSet, options: DataPlaneOptions) -> [ConfigProblem] {
        var problems = checkSubscriptions(manifests, options: options)
        for trigger in manifests.triggers {
            do {
                _ = try FilterCompiler.compile(trigger)
            } catch {
                problems.append(ConfigProblem(location: error.location, message: "Trigger \(trigger.meta.namespace)/\(trigger.meta.name) filters: \(error.message)"))
            }
            for destination in [trigger.subscriber, trigger.delivery?.deadLetterSink].compactMap({ $0 }) {
                if let problem = DestinationResolver.problem(destination, namespace: trigger.meta.namespace, manifests: manifests, options: options) {
                    problems.append(problem)
                }
            }
        }
        return problems
    }

    /// The active triggers of every broker and the subscriptions of every channel in
    /// `manifests`, by hub key, in name order.
    func plan(_ manifests: ManifestSet) -> [String: [TriggerPlan]] {
        var plans = planSubscriptions(manifests)
        for broker in manifests.brokers {
            let triggers = manifests.triggers
                .filter { $0.meta.namespace == broker.meta.namespace && $0.broker == broker.meta.name }
                .sorted { $0.meta.name < $1.meta.name }
            plans[broker.key] = triggers.compactMap { trigger in
                let key = "\(trigger.meta.namespace)/\(trigger.meta.name)"
                // `check` compiled every filter and resolved every destination already.
                guard let filter = try? FilterCompiler.compile(trigger),
                      let route = makeRoute(trigger, broker: broker, defaults: manifests.brokerDefaults) else {
                    logger.error("trigger \(key) could not be built; skipped")
                    return nil
                }
                let ordered = trigger.meta.annotations[KafkaBrokerSettings.orderingAnnotation] == "ordered"
                return TriggerPlan(key: key, filter: filter, route: route, ordered: ordered)
            }
        }
        return plans
    }

    /// Runs a delivery for every planned trigger on the queue its broker bound it to.
    func reconcile(_ plans: [String: [TriggerPlan]], queues: [String: [any TriggerQueue]]) -> [String: QueueDelivery] {
        var live: [String: QueueDelivery] = [:]
        for (brokerKey, brokerPlans) in plans {
            for (plan, queue) in zip(brokerPlans, queues[brokerKey] ?? []) {
                if let existing = deliveries[plan.key], existing.queue === queue {
                    existing.update(plan.route)
                    live[plan.key] = existing
                } else {
                    let delivery = QueueDelivery(route: plan.route, queue: queue, deliverers: deliverers, loops: loops,
                                                 window: options.deliveryWindow)
                    delivery.start()
                    live[plan.key] = delivery
                }
            }
        }
        for (key, delivery) in deliveries where live[key] == nil {
            delivery.stop()
            delivery.monitor.metrics.release()
        }
        deliveries = live
        return live
    }

    /// Stops every delivery (in-flight deliveries finish on their loops).
    func stop() {
        for delivery in deliveries.values { delivery.stop() }
    }

    // MARK: Routes

    private func makeRoute(_ trigger: TriggerManifest, broker: BrokerManifest, defaults: BrokerDefaults) -> DeliveryRoute? {
        let namespace = trigger.meta.namespace
        let spec = trigger.delivery ?? broker.delivery ?? defaults.delivery(forNamespace: namespace)
        // Knative: the trigger's dead-letter sink falls back to the broker's.
        let deadLetterDestination = spec?.deadLetterSink ?? broker.delivery?.deadLetterSink
        let deadLetterNamespace = spec?.deadLetterSink != nil ? namespace : broker.meta.namespace
        let deadLetter = deadLetterDestination.flatMap { DestinationResolver.resolve($0, namespace: deadLetterNamespace, controller: controller) }
        guard let subscriber = DestinationResolver.resolve(trigger.subscriber, namespace: namespace, controller: controller) else { return nil }
        let monitor = deliveries["\(namespace)/\(trigger.meta.name)"]?.monitor ?? makeMonitor(trigger, broker: broker)
        return DeliveryRoute(monitor: monitor, subscriber: subscriber, policy: DeliveryPolicy(spec, deadLetter: deadLetter),
                             replies: .local(HubSink(kind: .broker, namespace: broker.meta.namespace, name: broker.meta.name, controller: controller)),
                             options: .broker(namespace: namespace, format: spec?.format ?? .binary))
    }

    /// A trigger's counters, timers and log lines, labelled as Knative labels them.
    private func makeMonitor(_ trigger: TriggerManifest, broker: BrokerManifest) -> DeliveryMonitor {
        let labels = [(LabelNames.brokerName, broker.meta.name), (LabelNames.brokerNamespace, broker.meta.namespace),
                      (LabelNames.triggerName, trigger.meta.name)]
        let metrics = DeliveryMetrics(prefix: "sluice_trigger", labels: labels, factory: options.metricsFactory,
                                      options: options.metrics, shards: loops.count)
        return DeliveryMonitor(owner: DeliveryOwner(kind: "trigger", namespace: trigger.meta.namespace, name: trigger.meta.name),
                               metrics: metrics, logger: logger)
    }
}
