import CoreMetrics
import SluiceObservability

/// A RabbitmqSource's own figures beside its delivery metrics: messages consumed, acked,
/// nacked (rejected without requeue) and in flight, reconnects, and whether it is connected.
final class RabbitmqSourceMetrics: Sendable {
    let consumed: CoreMetrics.Counter
    let wrapped: CoreMetrics.Counter
    let acked: CoreMetrics.Counter
    let nacked: CoreMetrics.Counter
    let reconnects: CoreMetrics.Counter
    /// Messages read and not yet acked or nacked.
    let inFlight: CoreMetrics.Gauge
    /// 1 while the source has a consuming connection, else 0.
    let connected: CoreMetrics.Gauge

    init(namespace: String, name: String, queue: String, factory: any MetricsFactory) {
        let labels = [(LabelNames.sourceName, name), (LabelNames.sourceNamespace, namespace), (LabelNames.destinationName, queue)]
        func counter(_ name: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: "sluice_rabbitmq_source_\(name)", dimensions: labels, factory: factory)
        }
        consumed = counter("messages_consumed_total")
        wrapped = counter("messages_wrapped_total")
        acked = counter("messages_acked_total")
        nacked = counter("messages_nacked_total")
        reconnects = counter("reconnects_total")
        inFlight = CoreMetrics.Gauge(label: "sluice_rabbitmq_source_messages_in_flight", dimensions: labels, factory: factory)
        connected = CoreMetrics.Gauge(label: "sluice_rabbitmq_source_connected", dimensions: labels, factory: factory)
        connected.record(0)
    }

    func release() {
        for counter in [consumed, wrapped, acked, nacked, reconnects] { counter.destroy() }
        inFlight.destroy()
        connected.destroy()
    }
}
