import CoreMetrics
import SluiceKafka
import SluiceObservability
import SluiceIO

/// A KafkaSource's own figures beside its delivery metrics: records consumed, commits that
/// failed, and the lag of each assigned partition (read at scrape time).
final class KafkaSourceMetrics: Sendable {
    let consumed: CoreMetrics.Counter
    let wrapped: CoreMetrics.Counter
    let commitFailures: CoreMetrics.Counter
    private let labels: [(String, String)]
    private let factory: any MetricsFactory
    private let lags = Locked<[KafkaPartition: CoreMetrics.Gauge]>([:])

    init(namespace: String, name: String, group: String, factory: any MetricsFactory) {
        labels = [(LabelNames.sourceName, name), (LabelNames.sourceNamespace, namespace), (LabelNames.consumerGroup, group)]
        self.factory = factory
        consumed = CoreMetrics.Counter(label: "sluice_kafka_source_records_consumed_total", dimensions: labels, factory: factory)
        wrapped = CoreMetrics.Counter(label: "sluice_kafka_source_records_wrapped_total", dimensions: labels, factory: factory)
        commitFailures = CoreMetrics.Counter(label: "sluice_kafka_source_commit_failures_total", dimensions: labels, factory: factory)
    }

    /// Sets the lag of `partition` (records after the consumer's position).
    func lag(_ partition: KafkaPartition, _ value: Int64) {
        let gauge = lags.withLock { lags in
            if let gauge = lags[partition] { return gauge }
            let gauge = CoreMetrics.Gauge(label: "sluice_kafka_source_consumer_lag",
                                          dimensions: labels + [(LabelNames.destinationName, partition.topic),
                                                                (LabelNames.partitionID, String(partition.partition))],
                                          factory: factory)
            lags[partition] = gauge
            return gauge
        }
        gauge.record(value)
    }

    /// The partition left this process: its lag is someone else's to report.
    func forget(_ partition: KafkaPartition) {
        lags.withLock { $0.removeValue(forKey: partition) }?.destroy()
    }

    func release() {
        for counter in [consumed, wrapped, commitFailures] { counter.destroy() }
        for gauge in lags.withLock({ lags in defer { lags.removeAll() }; return Array(lags.values) }) { gauge.destroy() }
    }
}

/// A KafkaSink's figures: records acknowledged by Kafka, and those it did not take.
final class KafkaSinkMetrics: Sendable {
    let produced: CoreMetrics.Counter
    let failed: CoreMetrics.Counter
    let refusedInvalid: CoreMetrics.Counter

    init(namespace: String, name: String, factory: any MetricsFactory) {
        let labels = [(LabelNames.sinkName, name), (LabelNames.sinkNamespace, namespace)]
        produced = CoreMetrics.Counter(label: "sluice_kafka_sink_records_produced_total", dimensions: labels, factory: factory)
        failed = CoreMetrics.Counter(label: "sluice_kafka_sink_produce_failures_total", dimensions: labels, factory: factory)
        refusedInvalid = CoreMetrics.Counter(label: "sluice_kafka_sink_events_refused_invalid_total", dimensions: labels, factory: factory)
    }

    func release() {
        for counter in [produced, failed, refusedInvalid] { counter.destroy() }
    }
}
