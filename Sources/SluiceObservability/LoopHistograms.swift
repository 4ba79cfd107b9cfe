import CoreMetrics
import SluiceIO
import Synchronization

/// A histogram with one writer: the loop whose `TimerFamily` slot made it. Recording is a
/// bucket search and two relaxed stores, with no lock and no read-modify-write (a single
/// writer needs neither); a scrape reads the counts from another thread. Several loops'
/// histograms with the same name and labels are added up when rendered.
final class LoopHistogram: RecorderHandler, Sendable {
    let key: LoopHistograms.Key
    private let bounds: [Double]
    private let counts: [Count]
    /// The sum of the recorded values, as the bit pattern of a Double.
    private let sumBits = Atomic<UInt64>(0)

    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    init(key: LoopHistograms.Key, bounds: [Double]) {
        self.key = key
        self.bounds = bounds
        counts = (0...bounds.count).map { _ in Count() }  // the last one is +Inf
    }

    func record(_ value: Int64) {
        record(Double(value))
    }

    func record(_ value: Double) {
        var index = 0
        while index < bounds.count && value > bounds[index] { index += 1 }
        let cell = counts[index]
        cell.value.store(cell.value.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        sumBits.store((Double(bitPattern: sumBits.load(ordering: .relaxed)) + value).bitPattern, ordering: .relaxed)
    }

    /// Counts per bucket (not cumulative; the last is above every bound) and the sum.
    func read() -> (counts: [Int], sum: Double) {
        (counts.map { $0.value.load(ordering: .relaxed) }, Double(bitPattern: sumBits.load(ordering: .relaxed)))
    }
}

/// The value histograms the process makes (swift-metrics recorders that aggregate), kept
/// apart from swift-prometheus's registry so the hot path records without locks, and written
/// in the Prometheus text format beside the registry's output.
final class LoopHistograms: Sendable {
    struct Key: Hashable, Sendable {
        let name: String
        let labels: [String]  // name, value, name, value, ...

        init(name: String, dimensions: [(String, String)]) {
            self.name = name
            labels = dimensions.flatMap { [$0.0, $0.1] }
        }
    }

    let bounds: [Double]
    private let live = Locked<[ObjectIdentifier: LoopHistogram]>([:])

    init(bounds: [Double]) {
        self.bounds = bounds
    }

    func make(name: String, dimensions: [(String, String)]) -> LoopHistogram {
        let histogram = LoopHistogram(key: Key(name: name, dimensions: dimensions), bounds: bounds)
        live.withLock { $0[ObjectIdentifier(histogram)] = histogram }
        return histogram
    }

    func destroy(_ histogram: LoopHistogram) {
        live.withLock { $0[ObjectIdentifier(histogram)] = nil }
    }

    /// Every family as `# TYPE name histogram` and its series, in a stable order.
    func render(into buffer: inout [UInt8]) {
        var merged: [Key: (counts: [Int], sum: Double)] = [:]
        for histogram in live.withLock({ Array($0.values) }) {
            let (counts, sum) = histogram.read()
            if let existing = merged[histogram.key] {
                merged[histogram.key] = (zip(existing.counts, counts).map { $0 + $1 }, existing.sum + sum)
            } else {
                merged[histogram.key] = (counts, sum)
            }
        }
        let byName = Dictionary(grouping: merged.keys, by: \.name)
        for name in byName.keys.sorted() {
            buffer += Array("# TYPE \(name) histogram\n".utf8)
            for key in byName[name, default: []].sorted(by: { $0.labels.lexicographicallyPrecedes($1.labels) }) {
                guard let series = merged[key] else { continue }
                let labels = LoopHistograms.labelText(key.labels)
                var cumulative = 0
                for (index, count) in series.counts.enumerated() {
                    cumulative += count
                    let bound = index < bounds.count ? "\(bounds[index])" : "+Inf"
                    buffer += Array("\(name)_bucket{\(labels)\(labels.isEmpty ? "" : ",")le=\"\(bound)\"} \(cumulative)\n".utf8)
                }
                let braces = labels.isEmpty ? "" : "{\(labels)}"
                buffer += Array("\(name)_sum\(braces) \(series.sum)\n\(name)_count\(braces) \(cumulative)\n".utf8)
            }
        }
    }

    /// `a="x",b="y"`, values escaped as the text format wants (backslash, quote, newline).
    static func labelText(_ pairs: [String]) -> String {
        var text = ""
        var index = 0
        while index + 1 < pairs.count {
            if !text.isEmpty { text += "," }
            var value = ""
            for character in pairs[index + 1] {
                switch character {
                case "\\": value += "\\\\"
                case "\"": value += "\\\""
                case "\n": value += "\\n"
                default: value.append(character)
                }
            }
            text += "\(pairs[index])=\"\(value)\""
            index += 2
        }
        return text
    }
}

/// The process's swift-metrics factory: counters, gauges and timers go to swift-prometheus's
/// registry; recorders that aggregate (the duration histograms of `TimerFamily`) go to
/// `LoopHistograms`.
struct SluiceMetricsFactory: MetricsFactory {
    let prometheus: any MetricsFactory
    let histograms: LoopHistograms

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        prometheus.makeCounter(label: label, dimensions: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        prometheus.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        aggregate ? histograms.make(name: label, dimensions: dimensions) : prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: false)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        prometheus.makeMeter(label: label, dimensions: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        prometheus.makeTimer(label: label, dimensions: dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { prometheus.destroyFloatingPointCounter(handler) }
    func destroyMeter(_ handler: any MeterHandler) { prometheus.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { prometheus.destroyTimer(handler) }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let histogram = handler as? LoopHistogram {
            histograms.destroy(histogram)
        } else {
            prometheus.destroyRecorder(handler)
        }
    }
}
