import CoreMetrics
import Prometheus
import SluiceIO

/// The process's metrics in the Prometheus text format: swift-prometheus's registry for
/// counters and gauges, `LoopHistograms` for the duration histograms recorded per event, and
/// the swift-metrics factory every module makes its handles with. Durations use Knative's
/// buckets (5 ms to 10 s).
public final class PrometheusExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: any MetricsFactory
    private let histograms: LoopHistograms

    /// Knative's buckets for `kn.eventing.dispatch.duration` and `process.duration`.
    public static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init() {
        let registry = PrometheusCollectorRegistry()
        var prometheus = PrometheusMetricsFactory(registry: registry)
        prometheus.defaultDurationHistogramBuckets = PrometheusExporter.durationBuckets
        let seconds = PrometheusExporter.durationBuckets.map { duration in
            let (whole, attoseconds) = duration.components
            return Double(whole) + Double(attoseconds) / 1e18
        }
        histograms = LoopHistograms(bounds: seconds)
        self.registry = registry
        factory = SluiceMetricsFactory(prometheus: prometheus, histograms: histograms)
    }

    /// Everything registered, as the body of a `/metrics` answer.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        histograms.render(into: &buffer)
        return buffer
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// A counter fed from a total kept elsewhere (a store's own atomic counters): at each scrape
/// it adds what the total grew by since the last one.
public final class CounterFeed: Sendable {
    private let counter: CoreMetrics.Counter
    private let last = Locked<Int>(0)

    public init(label: String, dimensions: [(String, String)], factory: any MetricsFactory) {
        counter = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }

    public func update(total: Int) {
        let delta = last.withLock { last -> Int in
            defer { last = max(last, total) }
            return max(0, total - last)
        }
        if delta > 0 { counter.increment(by: delta) }
    }

    public func destroy() {
        counter.destroy()
    }
}
