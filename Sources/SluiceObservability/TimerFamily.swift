import CoreMetrics
import Synchronization

/// The timers of one metric for one resource, told apart by the event type and the status
/// code. A timer is made the first time its type and status are seen and cached per loop,
/// so recording makes no label strings and meets no other loop's lock (after the first event
/// of a kind); `destroy` releases every timer made, when the resource goes away.
public final class TimerFamily: Sendable {
    private struct Entry {
        let type: [UInt8]
        let status: Int
        let timer: CoreMetrics.Timer
    }

    private struct Slot {
        var byHash: [UInt64: [Entry]] = [:]
        var types = 0
        var destroyed = false
    }

    /// One loop's cache behind its own lock (uncontended: only that loop records into it).
    private final class LockedSlot: Sendable {
        let state = Mutex(Slot())
    }

    public let label: String
    private let dimensions: [(String, String)]
    private let factory: any MetricsFactory
    private let options: MetricsOptions
    private let slots: [LockedSlot]

    /// `shards`: how many loops record (each gets its own cache).
    public init(label: String, dimensions: [(String, String)], factory: any MetricsFactory, options: MetricsOptions, shards: Int) {
        self.label = label
        self.dimensions = dimensions
        self.factory = factory
        self.options = options
        slots = (0..<max(1, shards)).map { _ in LockedSlot() }
    }

    /// Records `nanoseconds` for an event of `type` answered with `status` (nil: no status
    /// label) on loop `shard`.
    public func record(shard: Int, type: UnsafeRawBufferPointer?, status: Int?, nanoseconds: Int64) {
        let slot = slots[shard < slots.count && shard >= 0 ? shard : 0]
        let timer: CoreMetrics.Timer? = slot.state.withLock { slot -> CoreMetrics.Timer? in
            if slot.destroyed { return nil }
            let type = options.labelsEventType ? type : nil
            let hash = TimerFamily.hash(type, status ?? -1)
            if let entries = slot.byHash[hash] {
                for entry in entries where entry.status == (status ?? -1) && TimerFamily.equal(entry.type, type) { return entry.timer }
            }
            var typeBytes = type.map { Array($0) } ?? []
            if options.labelsEventType && slot.types >= options.maxEventTypes {
                typeBytes = Array("other".utf8)
                let otherHash = TimerFamily.hash(UnsafeRawBufferPointer?.none, status ?? -1) ^ 0x5bd1_e995
                if let other = slot.byHash[otherHash]?.first(where: { $0.status == (status ?? -1) }) { return other.timer }
                let timer = makeTimer(type: typeBytes, status: status)
                slot.byHash[otherHash, default: []].append(Entry(type: typeBytes, status: status ?? -1, timer: timer))
                return timer
            }
            let timer = makeTimer(type: options.labelsEventType ? typeBytes : nil, status: status)
            slot.byHash[hash, default: []].append(Entry(type: typeBytes, status: status ?? -1, timer: timer))
            slot.types += 1
            return timer
        }
        timer?.recordNanoseconds(nanoseconds)
    }

    /// Releases every timer made; later records are ignored.
    public func destroy() {
        for slot in slots {
            let timers: [CoreMetrics.Timer] = slot.state.withLock { slot in
                slot.destroyed = true
                defer { slot.byHash = [:] }
                return slot.byHash.values.flatMap { entries in entries.map { $0.timer } }
            }
            for timer in timers { timer.destroy() }
        }
    }

    private func makeTimer(type: [UInt8]?, status: Int?) -> CoreMetrics.Timer {
        var labels = dimensions
        if let type { labels.append((LabelNames.eventType, String(decoding: type, as: UTF8.self))) }
        if let status { labels.append((LabelNames.statusCode, String(status))) }
        return CoreMetrics.Timer(label: label, dimensions: labels, preferredDisplayUnit: .seconds, factory: factory)
    }

    /// FNV-1a over the type's bytes, then the status.
    private static func hash(_ type: UnsafeRawBufferPointer?, _ status: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if let type {
            for byte in type {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
        }
        hash ^= UInt64(bitPattern: Int64(status))
        hash &*= 0x100_0000_01b3
        return hash
    }

    private static func equal(_ stored: [UInt8], _ type: UnsafeRawBufferPointer?) -> Bool {
        guard let type else { return stored.isEmpty }
        return stored.count == type.count && stored.withUnsafeBytes { $0.elementsEqual(type) }
    }
}
