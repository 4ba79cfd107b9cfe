import CoreMetrics
import Glibc
import SluiceIO

/// The duration histograms of one metric for one resource, told apart by the event type and
/// the status code. A histogram is made the first time its type and status are seen and
/// cached per loop, so recording makes no label strings and meets no other loop's lock (after
/// the first event of a kind); `destroy` releases every one made, when the resource goes
/// away. Durations are recorded as seconds into the factory's aggregating recorders, through
/// the handler itself (the `Recorder` wrapper's generic conversion costs more than the
/// record); with the process's factory those are lock-free `LoopHistogram`s, one per loop.
public final class TimerFamily: Sendable {
    /// A class, so looking one up costs one retain, not one per field.
    private final class Entry: Sendable {
        let hash: UInt64
        let status: Int
        let type: [UInt8]
        let handler: any RecorderHandler

        init(hash: UInt64, status: Int, type: [UInt8], handler: any RecorderHandler) {
            self.hash = hash
            self.status = status
            self.type = type
            self.handler = handler
        }
    }

    private struct Slot {
        /// Few entries (the kinds of events one resource sees), so a scan beats hashing.
        var entries: [Entry] = []
        /// Where the last hit was: events of one kind come in runs.
        var last = 0
        var types = 0
        var destroyed = false
    }


    public let label: String
    private let dimensions: [(String, String)]
    private let factory: any MetricsFactory
    private let options: MetricsOptions
    /// One cache per loop, each behind its own lock (uncontended: only that loop records into
    /// it; `destroy` may come from another thread). A pthread lock, which ThreadSanitizer sees.
    private let slots: [Locked<Slot>]

    /// `shards`: how many loops record (each gets its own cache).
    public init(label: String, dimensions: [(String, String)], factory: any MetricsFactory, options: MetricsOptions, shards: Int) {
        self.label = label
        self.dimensions = dimensions
        self.factory = factory
        self.options = options
        slots = (0..<max(1, shards)).map { _ in Locked(Slot()) }
    }

    /// Records `nanoseconds` for an event of `type` answered with `status` (nil: no status
    /// label) on loop `shard`. Each shard is recorded from one thread only (its loop): the
    /// histograms it hands out have a single writer.
    public func record(shard: Int, type: UnsafeRawBufferPointer?, status: Int?, nanoseconds: Int64) {
        let slot = slots[shard < slots.count && shard >= 0 ? shard : 0]
        let type = options.labelsEventType ? type : nil
        let status = status ?? -1
        let handler: (any RecorderHandler)? = slot.withLock { slot in
            if slot.destroyed { return nil }
            // Events of one kind come in runs: the last hit usually matches, without hashing.
            if slot.last < slot.entries.count, slot.entries[slot.last].status == status, TimerFamily.equal(slot.entries[slot.last].type, type) {
                return slot.entries[slot.last].handler
            }
            let hash = TimerFamily.hash(type, status)
            for index in slot.entries.indices where TimerFamily.matches(slot.entries[index], hash, status, type) {
                slot.last = index
                return slot.entries[index].handler
            }
            return add(to: &slot, hash: hash, status: status, type: type)
        }
        handler?.record(Double(nanoseconds) / 1e9)
    }

    /// Makes the histogram of a kind not seen yet on this loop; past `maxEventTypes` types,
    /// the rest share one labelled "other".
    private func add(to slot: inout Slot, hash: UInt64, status: Int, type: UnsafeRawBufferPointer?) -> any RecorderHandler {
        var typeBytes = type.map { Array($0) }
        var key = hash
        if typeBytes != nil && slot.types >= options.maxEventTypes {
            typeBytes = Array("other".utf8)
            key = TimerFamily.hash(nil, status) ^ 0x5bd1_e995
            for entry in slot.entries where entry.hash == key && entry.status == status { return entry.handler }
        } else if typeBytes != nil {
            slot.types += 1
        }
        var labels = dimensions
        if let typeBytes { labels.append((LabelNames.eventType, String(decoding: typeBytes, as: UTF8.self))) }
        if status >= 0 { labels.append((LabelNames.statusCode, String(status))) }
        let handler = factory.makeRecorder(label: label, dimensions: labels, aggregate: true)
        slot.entries.append(Entry(hash: key, status: status, type: key == hash ? (typeBytes ?? []) : [], handler: handler))
        slot.last = slot.entries.count - 1
        return handler
    }

    /// Releases every histogram made; later records are ignored.
    public func destroy() {
        for slot in slots {
            let handlers: [any RecorderHandler] = slot.withLock { slot in
                slot.destroyed = true
                defer { slot.entries = [] }
                return slot.entries.map(\.handler)
            }
            for handler in handlers { factory.destroyRecorder(handler) }
        }
    }

    @inline(__always)
    private static func matches(_ entry: Entry, _ hash: UInt64, _ status: Int, _ type: UnsafeRawBufferPointer?) -> Bool {
        entry.hash == hash && entry.status == status && equal(entry.type, type)
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
        guard stored.count == type.count else { return false }
        if type.isEmpty { return true }
        return stored.withUnsafeBytes { memcmp($0.baseAddress!, type.baseAddress!, type.count) == 0 }
    }
}
