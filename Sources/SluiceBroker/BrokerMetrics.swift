import CoreMetrics
import SluiceObservability
import SluiceStorage

/// One broker's metric handles, made when the broker is first built and released when it is
/// removed: the ingress counters (Sluice's names), the ingress request durations by status
/// (Knative's `kn_eventing_dispatch_duration_seconds` with the broker's labels), and the
/// figures of its store, read from the store's own counters at each scrape.
public final class BrokerMetrics: Sendable {
    public let accepted: CoreMetrics.Counter
    public let unmatched: CoreMetrics.Counter
    public let refusedInvalid: CoreMetrics.Counter
    public let refusedFull: CoreMetrics.Counter
    /// Each ingress request: how long until it was answered, by status.
    public let requests: TimerFamily
    /// The store's figures, for stores that keep counters (durable ones).
    private let storage: StorageFeeds?

    public init(kind: HubKind = .broker, namespace: String, name: String, durable: Bool, factory: any MetricsFactory,
                options: MetricsOptions, shards: Int) {
        let labels = kind == .broker ? [(LabelNames.brokerName, name), (LabelNames.brokerNamespace, namespace)]
            : [(LabelNames.channelName, name), (LabelNames.channelNamespace, namespace)]
        let prefix = kind.metricPrefix
        accepted = CoreMetrics.Counter(label: "\(prefix)_events_accepted_total", dimensions: labels, factory: factory)
        unmatched = CoreMetrics.Counter(label: "\(prefix)_events_unmatched_total", dimensions: labels, factory: factory)
        refusedInvalid = CoreMetrics.Counter(label: "\(prefix)_events_rejected_total", dimensions: labels + [("reason", "invalid")],
                                             factory: factory)
        refusedFull = CoreMetrics.Counter(label: "\(prefix)_events_rejected_total", dimensions: labels + [("reason", "full")],
                                          factory: factory)
        requests = TimerFamily(label: MetricNames.dispatchDuration, dimensions: labels, factory: factory, options: options, shards: shards)
        storage = durable ? StorageFeeds(labels: labels, factory: factory) : nil
    }

    /// Copies the store's counters into the exporter (before a scrape).
    func collect(_ store: StorageMetrics?) {
        guard let store else { return }
        storage?.update(store)
    }

    /// Takes the handles out of the exporter: the broker was removed.
    func release() {
        for counter in [accepted, unmatched, refusedInvalid, refusedFull] { counter.destroy() }
        requests.destroy()
        storage?.destroy()
    }
}

/// A durable store's counters as metrics.
private final class StorageFeeds: Sendable {
    let written, syncs, failures, reclaimed, readBack, checkpoints: CounterFeed
    let diskBytes: CoreMetrics.Gauge

    init(labels: [(String, String)], factory: any MetricsFactory) {
        written = CounterFeed(label: "sluice_storage_events_written_total", dimensions: labels, factory: factory)
        syncs = CounterFeed(label: "sluice_storage_syncs_total", dimensions: labels, factory: factory)
        failures = CounterFeed(label: "sluice_storage_failures_total", dimensions: labels, factory: factory)
        reclaimed = CounterFeed(label: "sluice_storage_segments_reclaimed_total", dimensions: labels, factory: factory)
        readBack = CounterFeed(label: "sluice_storage_events_read_back_total", dimensions: labels, factory: factory)
        checkpoints = CounterFeed(label: "sluice_storage_checkpoints_total", dimensions: labels, factory: factory)
        diskBytes = CoreMetrics.Gauge(label: "sluice_storage_disk_bytes", dimensions: labels, factory: factory)
    }

    func update(_ store: StorageMetrics) {
        written.update(total: store.eventsWritten.load(ordering: .relaxed))
        syncs.update(total: store.syncs.load(ordering: .relaxed))
        failures.update(total: store.failures.load(ordering: .relaxed))
        reclaimed.update(total: store.segmentsReclaimed.load(ordering: .relaxed))
        readBack.update(total: store.eventsReadBack.load(ordering: .relaxed))
        checkpoints.update(total: store.checkpoints.load(ordering: .relaxed))
        diskBytes.record(store.diskBytes.load(ordering: .relaxed))
    }

    func destroy() {
        for feed in [written, syncs, failures, reclaimed, readBack, checkpoints] { feed.destroy() }
        diskBytes.destroy()
    }
}
