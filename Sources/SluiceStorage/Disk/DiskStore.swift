import Logging
import SluiceCloudEvents
import SluiceIO
import Synchronization

/// Events kept durably (`--storage disk`): a segmented append-only log per broker, written by
/// one committer thread with group commit, and the events owed to triggers kept in memory
/// in the same bounded queues as the memory store.
///
/// An ingress request's events are encoded on the loop that received them and handed to the
/// committer; the committer writes everything handed over since its last write with one
/// write and makes it durable with one fdatasync, then queues the events for their triggers
/// and completes the requests (the 202 follows). While it syncs, new requests gather for the
/// next batch, so the batch grows with the load and a lone request never waits for a timer.
/// Done and retry records (at-least-once bookkeeping) ride along with the next batch, or are
/// written and synced on their own within `bookkeepingInterval` when no events arrive.
public final class DiskStore: BrokerStore, TriggerQueueOwner, @unchecked Sendable {  // committer state is confined to its thread
    public struct Options: Sendable {
        public var directory: String
        public var maxEventsPerTrigger = 10_000
        /// Bytes of owed events held in memory before the broker answers 503.
        public var maxMemoryBytes = 256 * 1024 * 1024
        /// Bytes of log on disk before the broker answers 503.
        public var maxDiskBytes = 1024 * 1024 * 1024
        public var segmentBytes = 64 * 1024 * 1024
        public var bookkeepingInterval: Duration = .milliseconds(20)
        public var fileSystem: any LogFileSystem = PosixFileSystem()

        public init(directory: String) {
            self.directory = directory
        }
    }

    public let options: Options
    let counters = StorageMetrics()
    let logger: Logger
    private let queues = Locked<(byKey: [String: RingTriggerQueue], nextId: UInt32)>(([:], 1))
    let bounds: EventBounds
    /// Bytes handed to the committer and not yet written.
    let pendingBytes = Atomic<Int>(0)
    let work = Locked(PendingWork())
    private var thread: LoopThread?

    // Committer-confined (see DiskStore+Committer.swift).
    let log: SegmentedLog
    var nextSequence: UInt64
    var unsynced = false
    var batch: [UInt8] = []

    /// Opens (creating if needed) the log in `options.directory` and recovers what it holds.
    public init(options: Options, logger: Logger = Logger(label: "sluice.storage")) throws(StorageError) {
        self.options = options
        self.logger = logger
        bounds = EventBounds(maxBytes: options.maxMemoryBytes)
        try options.fileSystem.createDirectory(atPath: options.directory)
        let started = ContinuousClock.now
        let recovered = try LogRecovery.recover(directory: options.directory, fileSystem: options.fileSystem)
        for problem in recovered.problems { logger.error("recovery of \(options.directory): \(problem)") }
        log = SegmentedLog(directory: options.directory, fileSystem: options.fileSystem,
                           segmentBytes: options.segmentBytes, recovered: recovered.segments)
        nextSequence = recovered.nextSequence
        var byKey: [String: RingTriggerQueue] = [:]
        var owed = 0
        for (id, key) in recovered.triggers {
            let events = recovered.pending[id] ?? []
            owed += events.count
            bounds.hold(recovered: events)
            byKey[key] = RingTriggerQueue(key: key, id: id, capacity: options.maxEventsPerTrigger, owner: self, recovered: events)
        }
        queues.withLock { $0 = (byKey, recovered.nextTriggerId) }
        try log.roll(preamble: triggerTable())
        counters.diskBytes.store(log.diskBytes, ordering: .relaxed)
        if recovered.recordsRead > 0 {
            logger.info("recovered \(options.directory)", metadata: [
                "records": "\(recovered.recordsRead)", "owed": "\(owed)", "triggers": "\(byKey.count)",
                "segments": "\(recovered.segments.count)", "seconds": "\(ContinuousClock.now - started)",
            ])
        }
        do {
            thread = try LoopThread(name: "sluice-commit") { [self] in self.commitLoop() }
        } catch {
            throw .failed("cannot start the log committer: \(error)")
        }
    }

    public var metrics: StorageMetrics? { counters }

    /// How long a producer refused at the disk bound should wait: space comes back only when
    /// every trigger is done with the oldest segment, which takes longer than a queue place.
    static let diskFullRetryAfterSeconds = 5

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
            enqueueControl(record)
        }
    }

    // MARK: Appending

    public func append(_ entries: [StoreEntry<RingTriggerQueue>], completion: @escaping @Sendable (StorageError?) -> Void) {
        let admitted: [StoreEntry<RingTriggerQueue>]
        switch bounds.admit(entries) {
        case .failure(let refusal):
            completion(refusal)
            return
        case .success(let entries):
            // Events no trigger takes are not written: nothing will ever be owed for them.
            admitted = entries.filter { !$0.queues.isEmpty }
        }
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
            bounds.release(admitted)
            completion(.full(retryAfterSeconds: DiskStore.diskFullRetryAfterSeconds))
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
            bounds.release(admitted)
            completion(.failed("the store is closed"))
            return
        }
        work.signal()
    }

    // MARK: Bookkeeping from the dispatchers

    func finished(_ event: StoredEvent, by queue: RingTriggerQueue) {
        bounds.finished(event.event)
        work.withLock { $0.done.append(Acknowledgement(trigger: queue.id, sequence: event.position.offset)) }
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
    var closed = false

    var hasEvents: Bool { !writes.isEmpty }
    var isEmpty: Bool { writes.isEmpty && controls.isEmpty && done.isEmpty }
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
