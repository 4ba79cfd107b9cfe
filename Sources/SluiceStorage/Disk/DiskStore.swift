import Logging
import SluiceCloudEvents
import SluiceIO
import Synchronization

/// Events kept durably (`--storage disk`): a segmented append-only log per broker, written by
/// one committer thread with group commit. Each trigger takes its events from a small memory
/// window; a trigger that falls behind reads the rest back from the log (see `TriggerLedger`),
/// so a slow subscriber makes its trigger lag, not the broker fill up: the broker answers 503
/// only at its disk bound.
///
/// An ingress request's events are encoded on the loop that received them and handed to the
/// committer; the committer writes everything handed over since its last write with one
/// write, puts the events in their triggers' windows (delivery starts while the disk flushes),
/// makes them durable with one fdatasync and completes the requests: the 202 follows the sync,
/// never precedes it. While it syncs, new requests gather
/// for the next batch, so the batch grows with the load and a lone request never waits for a
/// timer. Done and retry records (at-least-once bookkeeping) ride along with the next batch, or
/// are written and synced on their own within `bookkeepingInterval` when no events arrive.
/// Every `checkpointInterval` the committer notes where each trigger stands (`LogCheckpoint`,
/// written in the background by `CheckpointWriter`), so a restart reads only the part of the
/// log still owed.
public final class DiskStore: BrokerStore, TriggerQueueOwner, @unchecked Sendable {  // committer state is confined to its thread
    public struct Options: Sendable {
        public var directory: String
        /// Events of one trigger held in memory (waiting and in flight); more wait in the log.
        public var maxEventsPerTrigger = 10_000
        /// Bytes of events held in memory across the broker's triggers; more wait in the log.
        public var maxMemoryBytes = 256 * 1024 * 1024
        /// Bytes of log on disk before the broker answers 503.
        public var maxDiskBytes = 1024 * 1024 * 1024
        public var segmentBytes = 64 * 1024 * 1024
        public var bookkeepingInterval: Duration = .milliseconds(20)
        public var checkpointInterval: Duration = .seconds(1)
        public var fileSystem: any LogFileSystem = PosixFileSystem()

        public init(directory: String) {
            self.directory = directory
        }
    }

    public let options: Options
    let counters = StorageMetrics()
    let logger: Logger
    let queues = Locked<(byKey: [String: RingTriggerQueue], nextId: UInt32)>(([:], 1))
    /// Bytes of events in the triggers' windows.
    let memoryBytes = Atomic<Int>(0)
    /// Bytes handed to the committer and not yet written.
    let pendingBytes = Atomic<Int>(0)
    let work = Locked(PendingWork())
    let checkpointWriter: CheckpointWriter
    private var thread: LoopThread?

    // Committer-confined (see DiskStore+Committer.swift and DiskStore+Backlog.swift).
    let log: SegmentedLog
    var nextSequence: UInt64
    var unsynced = false
    var batch: [UInt8] = []
    var ledgers: [UInt32: TriggerLedger] = [:]
    var lastCheckpoint: UInt64 = 0
    var changedSinceCheckpoint = false
    var lastReadFailureLogged: UInt64 = 0
    var drain = DrainEstimate()

    /// Opens (creating if needed) the log in `options.directory` and recovers what it holds.
    public init(options: Options, logger: Logger = Logger(label: "sluice.storage")) throws(StorageError) {
        self.options = options
        self.logger = logger
        checkpointWriter = CheckpointWriter(directory: options.directory, fileSystem: options.fileSystem, counters: counters, logger: logger)
        try options.fileSystem.createDirectory(atPath: options.directory)
        let started = ContinuousClock.now
        let recovered = try LogRecovery.recover(directory: options.directory, fileSystem: options.fileSystem)
        for problem in recovered.problems { logger.error("recovery of \(options.directory): \(problem)") }
        log = SegmentedLog(directory: options.directory, fileSystem: options.fileSystem,
                           segmentBytes: options.segmentBytes, recovered: recovered.segments)
        nextSequence = recovered.nextSequence
        var byKey: [String: RingTriggerQueue] = [:]
        for (id, start) in recovered.triggers {
            let queue = RingTriggerQueue(key: start.key, id: id, capacity: options.maxEventsPerTrigger, owner: self)
            byKey[start.key] = queue
            ledgers[id] = TriggerLedger(queue: queue, recovered: start)
        }
        queues.withLock { $0 = (byKey, recovered.nextTriggerId) }
        try log.roll(preamble: triggerTable())
        counters.diskBytes.store(log.diskBytes, ordering: .relaxed)
        counters.recoveredRecords.store(recovered.recordsRead, ordering: .relaxed)
        // The windows fill before the first request: what is owed is delivered first.
        refillBacklogs()
        if recovered.recordsRead > 0 {
            logger.info("recovered \(options.directory)", metadata: [
                "records": "\(recovered.recordsRead)", "owed": "\(recovered.triggers.values.reduce(0) { $0 + $1.owed })",
                "triggers": "\(byKey.count)", "segments": "\(recovered.segments.count)",
                "checkpoint": "\(recovered.checkpointUsed)", "seconds": "\(ContinuousClock.now - started)",
            ])
        }
        lastCheckpoint = Monotonic.now()
        do {
            thread = try LoopThread(name: "sluice-commit") { [self] in self.commitLoop() }
        } catch {
            throw .failed("cannot start the log committer: \(error)")
        }
    }

    public var metrics: StorageMetrics? { counters }
    public var fullQueuesRefuse: Bool { false }

    /// How long a producer refused at the disk bound is asked to wait, in seconds: space comes
    /// back when the triggers are done with the oldest segment, so the committer estimates
    /// that from the rate they finish events (`DrainEstimate`). 5 until it knows.
    let fullRetryAfter = Atomic<Int>(5)

    // MARK: Triggers

    public func queue(forTrigger key: String) -> RingTriggerQueue {
        let (queue, created) = queues.withLock { state -> (RingTriggerQueue, Bool) in
            if let existing = state.byKey[key] { return (existing, false) }
            let queue = RingTriggerQueue(key: key, id: state.nextId, capacity: options.maxEventsPerTrigger, owner: self)
            state.nextId += 1
            state.byKey[key] = queue
            return (queue, true)
        }
        if created { enqueueControl(triggerRecord(id: queue.id, key: key)) }
        return queue
    }

    public func retainOnly(triggers keys: Set<String>) {
        let removed: [RingTriggerQueue] = queues.withLock { state in
            let gone = state.byKey.values.filter { !keys.contains($0.key) }
            for queue in gone { state.byKey[queue.key] = nil }
            return gone
        }
        for queue in removed {
            queue.discardAll()
            var record: [UInt8] = []
            let start = LogRecord.begin(.triggerRemoved, in: &record)
            record.appendLittleEndian(queue.id)
            LogRecord.end(start, in: &record)
            work.withLock { work in
                work.controls += record
                work.removed.append(queue.id)
            }
            work.signal()
        }
    }

    // MARK: Appending

    public func append(_ entries: [StoreEntry<RingTriggerQueue>], completion: @escaping @Sendable (StorageError?) -> Void) {
        // Events no trigger takes are not written: nothing will ever be owed for them. A queue
        // removed by a reload that this request's snapshot predates is skipped.
        var admitted = entries
        for index in admitted.indices where admitted[index].queues.contains(where: \.isDiscarded) {
            admitted[index].queues.removeAll(where: \.isDiscarded)
        }
        admitted.removeAll { $0.queues.isEmpty }
        if admitted.isEmpty {
            completion(nil)
            return
        }
        var records: [UInt8] = []
        var offsets: [Int] = []
        offsets.reserveCapacity(admitted.count)
        for entry in admitted {
            let start = LogRecord.begin(.event, in: &records)
            offsets.append(start)
            records.appendLittleEndian(UInt64(0))  // the sequence, assigned by the committer
            records.appendLittleEndian(UInt16(entry.queues.count))
            for queue in entry.queues { records.appendLittleEndian(queue.id) }
            entry.event.appendStorageBytes(to: &records)
            LogRecord.end(start, in: &records, seal: false)
        }
        let onDisk = counters.diskBytes.load(ordering: .relaxed)
        if onDisk + pendingBytes.add(records.count, ordering: .relaxed).newValue > options.maxDiskBytes {
            pendingBytes.subtract(records.count, ordering: .relaxed)
            completion(.full(retryAfterSeconds: fullRetryAfter.load(ordering: .relaxed)))
            return
        }
        let write = PendingWrite(records: records, eventOffsets: offsets, entries: admitted, completion: completion)
        let accepted = work.withLock { work -> Bool in
            guard !work.closed else { return false }
            work.writes.append(write)
            return true
        }
        guard accepted else {
            pendingBytes.subtract(records.count, ordering: .relaxed)
            completion(.failed("the store is closed"))
            return
        }
        work.signal()
    }

    // MARK: Bookkeeping from the dispatchers

    func finished(_ event: StoredEvent, by queue: RingTriggerQueue) {
        memoryBytes.subtract(EventBounds.cost(event.event), ordering: .relaxed)
        // A trigger reading its backlog asks for more once half its window is free.
        let wantsMore = queue.isBehind && queue.depth <= queue.capacity / 2
        let wake = work.withLock { work -> Bool in
            work.done.append(Acknowledgement(trigger: queue.id, sequence: event.position.offset))
            guard wantsMore, !work.refill else { return false }
            work.refill = true
            return true
        }
        if wake { work.signal() }
    }

    func retrying(_ event: StoredEvent, attempts: Int, nextAttemptAt: Int64, by queue: RingTriggerQueue) {
        var record: [UInt8] = []
        let start = LogRecord.begin(.retry, in: &record)
        record.appendLittleEndian(queue.id)
        record.appendLittleEndian(event.position.offset)
        record.appendLittleEndian(UInt32(clamping: attempts))
        record.appendLittleEndian(nextAttemptAt)
        LogRecord.end(start, in: &record)
        work.withLock { $0.controls += record }
    }

    private func enqueueControl(_ record: [UInt8]) {
        work.withLock { $0.controls += record }
        work.signal()
    }

    private func triggerRecord(id: UInt32, key: String) -> [UInt8] {
        var record: [UInt8] = []
        let start = LogRecord.begin(.trigger, in: &record)
        record.appendLittleEndian(id)
        record += Array(key.utf8)
        LogRecord.end(start, in: &record)
        return record
    }

    /// Every live trigger's record: the start of each segment, so the names of trigger ids
    /// survive the deletion of older segments.
    func triggerTable() -> [UInt8] {
        let live = queues.withLock { $0.byKey.values.map { ($0.id, $0.key) } }
        return live.sorted { $0.0 < $1.0 }.reduce(into: []) { $0 += triggerRecord(id: $1.0, key: $1.1) }
    }

    // MARK: Closing

    public func close() {
        let wasOpen = work.withLock { work -> Bool in
            defer { work.closed = true }
            return !work.closed
        }
        guard wasOpen else { return }
        work.signal()
        thread?.join()
        log.close()
    }
}

/// What the loops hand to the committer.
struct PendingWork {
    var writes: [PendingWrite] = []
    /// Sealed records (triggers, retries) to write before the next events.
    var controls: [UInt8] = []
    var done: [Acknowledgement] = []
    /// Triggers removed: their backlogs are released.
    var removed: [UInt32] = []
    /// A trigger that is behind has room in its window.
    var refill = false
    var closed = false

    var hasEvents: Bool { !writes.isEmpty }
    var isEmpty: Bool { writes.isEmpty && controls.isEmpty && done.isEmpty && removed.isEmpty }
}

/// One ingress request's events, encoded, waiting to be written.
struct PendingWrite {
    var records: [UInt8]
    /// Where each event record starts in `records`.
    let eventOffsets: [Int]
    let entries: [StoreEntry<RingTriggerQueue>]
    let completion: @Sendable (StorageError?) -> Void
}

struct Acknowledgement {
    let trigger: UInt32
    let sequence: UInt64
}
