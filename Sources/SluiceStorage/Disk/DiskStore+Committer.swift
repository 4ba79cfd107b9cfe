import SluiceIO

/// The committer: the one thread that writes a store's log.
extension DiskStore {
    func commitLoop() {
        while true {
            // Events are committed as soon as they arrive; bookkeeping (done, retry, trigger
            // records) waits for them or for the interval, whichever comes first.
            var taken = work.wait(until: { $0.hasEvents || $0.closed || $0.refill }, timeout: options.bookkeepingInterval) { work in
                let taken = work
                work.writes.removeAll()
                work.controls.removeAll()
                work.done.removeAll()
                work.removed.removeAll()
                work.refill = false
                return taken
            }
            if !taken.isEmpty {
                commit(&taken, sync: taken.hasEvents || taken.closed)
            } else if unsynced {
                syncBookkeeping()
            }
            for id in taken.removed { releaseBacklog(of: id) }
            refillBacklogs()
            if let seconds = drain.update(now: Monotonic.now(), owedInOldestSegment: log.segments.first?.outstanding ?? 0) {
                fullRetryAfter.store(seconds, ordering: .relaxed)
            }
            if taken.closed {
                writeCheckpoint(waiting: true)
                return
            }
            // Idle-time work: the checkpoint (unless overdue, it waits for a moment without
            // requests) and zeros ahead of the appends.
            let sinceCheckpoint = Monotonic.now() &- lastCheckpoint
            let interval = options.checkpointInterval.nanoseconds
            if changedSinceCheckpoint && sinceCheckpoint >= interval && (!work.withLock { $0.hasEvents } || sinceCheckpoint >= 5 * interval) {
                writeCheckpoint()
            }
            log.prepareAhead { !work.withLock { $0.hasEvents } }
        }
    }

    private func syncBookkeeping() {
        do throws(StorageError) {
            try log.sync()
            counters.syncs.add(1, ordering: .relaxed)
            unsynced = false
        } catch {
            failed(error)
        }
    }

    /// Writes one batch: control records, done records, then every request's events (numbered
    /// here, in log order); hands the events to their triggers; syncs when the batch holds
    /// events; then completes the requests, or fails them all.
    ///
    /// Triggers get the events between the write and the sync, so deliveries start while the
    /// disk flushes and a lone event's end-to-end latency does not include the fdatasync. Only
    /// the producer's 2xx waits for it. A crash before the sync can therefore deliver an event
    /// whose producer got no 2xx and sends it again: a duplicate, which at-least-once allows,
    /// never a loss. Done records about such an event come in a later batch, after it in the
    /// file, so they cannot be durable while it is not.
    private func commit(_ taken: inout PendingWork, sync: Bool) {
        let (eventBytes, firstSequences, writeStarts) = encode(&taken)
        let batchStart: LogPosition
        do throws(StorageError) {
            if log.needsRoll(adding: batch.count) { try log.roll(preamble: triggerTable()) }
            batchStart = log.end
            try batch.withStorageBytes { bytes throws(StorageError) in
                try log.append(bytes, highestSequence: taken.hasEvents ? nextSequence - 1 : nil)
            }
        } catch {
            failed(error)
            pendingBytes.subtract(eventBytes, ordering: .relaxed)
            for write in taken.writes { write.completion(error) }
            // Memory stays the truth for deliveries: a done record that did not reach the disk
            // costs a re-delivery after a crash, never a loss.
            release(taken.done)
            return
        }
        pendingBytes.subtract(eventBytes, ordering: .relaxed)
        let now = Monotonic.now()
        for (index, write) in taken.writes.enumerated() {
            var sequence = firstSequences[index]
            for (entry, offset) in zip(write.entries, write.eventOffsets) {
                let position = LogPosition(segment: batchStart.segment, offset: batchStart.offset + writeStarts[index] + offset)
                let stored = StoredEvent(event: entry.event, position: StreamPosition(offset: sequence), arrivedAt: now)
                var owners = 0
                for queue in entry.queues where !queue.isDiscarded {
                    owners += 1
                    hand(stored, at: position, to: queue)
                }
                log.addOutstanding(owners)
                sequence += 1
            }
        }
        changedSinceCheckpoint = true
        var outcome: StorageError?
        do throws(StorageError) {
            if sync {
                try log.sync()
                counters.syncs.add(1, ordering: .relaxed)
            }
            unsynced = !sync
        } catch {
            // The events are written and owed, and will be delivered; their producers are told
            // to send them again (503), which at worst duplicates them.
            failed(error)
            outcome = error
            unsynced = true
        }
        var events = 0
        for write in taken.writes {
            events += write.entries.count
            write.completion(outcome)
        }
        if outcome == nil { counters.eventsWritten.add(events, ordering: .relaxed) }
        release(taken.done)
    }

    /// Fills `batch` with the records of `taken`: controls, done records, then the events,
    /// numbered in log order. Returns the events' bytes, and each request's first sequence and
    /// offset in the batch.
    private func encode(_ taken: inout PendingWork) -> (eventBytes: Int, firstSequences: [UInt64], writeStarts: [Int]) {
        batch.removeAll(keepingCapacity: true)
        batch += taken.controls
        // Done records before the events: they are about earlier events, and a restart that
        // starts reading at the oldest event owed then skips them.
        for done in taken.done {
            let start = LogRecord.begin(.done, in: &batch)
            batch.appendLittleEndian(done.trigger)
            batch.appendLittleEndian(done.sequence)
            LogRecord.end(start, in: &batch)
        }
        var firstSequences: [UInt64] = []
        firstSequences.reserveCapacity(taken.writes.count)
        var writeStarts: [Int] = []
        writeStarts.reserveCapacity(taken.writes.count)
        var eventBytes = 0
        for index in taken.writes.indices {
            firstSequences.append(nextSequence)
            writeStarts.append(batch.count)
            let offsets = taken.writes[index].eventOffsets
            taken.writes[index].records.withUnsafeMutableBytes { raw in
                for offset in offsets {
                    raw.storeBytes(of: nextSequence.littleEndian, toByteOffset: offset + LogRecord.headerBytes + 1, as: UInt64.self)
                    LogRecord.reseal(offset, in: raw)
                    nextSequence += 1
                }
            }
            eventBytes += taken.writes[index].records.count
            batch += taken.writes[index].records
        }
        return (eventBytes, firstSequences, writeStarts)
    }

    /// A committed event for `queue`: into its window while it has room, else into its
    /// backlog (it stays in the log only, and the trigger reads it back later).
    private func hand(_ stored: StoredEvent, at position: LogPosition, to queue: RingTriggerQueue) {
        let ledger = ledgers[queue.id] ?? {
            let created = TriggerLedger(queue: queue)
            ledgers[queue.id] = created
            return created
        }()
        guard !ledger.isBehind else { return }
        if take(stored, into: queue) {
            ledger.took(stored.position.offset, at: position)
        } else {
            ledger.fallBehind(at: position, sequence: stored.position.offset)
        }
    }

    /// Puts `stored` in `queue`'s window if the window and the broker's memory have room. An
    /// empty window always takes one, so an event larger than the memory bound still moves.
    func take(_ stored: StoredEvent, into queue: RingTriggerQueue) -> Bool {
        let cost = EventBounds.cost(stored.event)
        guard queue.depth == 0 || memoryBytes.load(ordering: .relaxed) + cost <= options.maxMemoryBytes, queue.tryHold() else { return false }
        memoryBytes.add(cost, ordering: .relaxed)
        queue.push(stored)
        return true
    }

    /// Releases the segments of finished deliveries and deletes the ones nothing needs.
    func release(_ done: [Acknowledgement]) {
        drain.finished += done.count
        for acknowledgement in done {
            log.release(sequence: acknowledgement.sequence)
            ledgers[acknowledgement.trigger]?.done(acknowledgement.sequence)
        }
        if !done.isEmpty { changedSinceCheckpoint = true }
        reclaimSegments()
    }

    /// Deletes the segments nothing needs any more.
    func reclaimSegments() {
        let deleted = log.reclaim()
        if deleted > 0 { counters.segmentsReclaimed.add(deleted, ordering: .relaxed) }
        counters.diskBytes.store(log.diskBytes, ordering: .relaxed)
    }

    func failed(_ error: StorageError) {
        counters.failures.add(1, ordering: .relaxed)
        logger.error("writing the event log failed; requests are answered 503 until it works again", metadata: [
            "directory": "\(options.directory)", "reason": "\(error)",
        ])
    }
}

/// How fast a broker's triggers finish events, and so how long until the oldest segment is
/// free: what a producer refused at the disk bound is told to wait. Sampled once a second,
/// smoothed, on the committer.
struct DrainEstimate {
    var finished = 0
    private var sampleStart: UInt64 = 0
    private var rate = 0.0
    /// When nothing finishes (every subscriber down), producers are asked to wait this long.
    static let stalledSeconds = 30

    /// The Retry-After seconds once per second (nil between samples), for `owed` deliveries
    /// left in the oldest segment.
    mutating func update(now: UInt64, owedInOldestSegment owed: Int) -> Int? {
        if sampleStart == 0 { sampleStart = now }
        let elapsed = now &- sampleStart
        guard elapsed >= 1_000_000_000 else { return nil }
        let sampled = Double(finished) / (Double(elapsed) / 1e9)
        rate = rate == 0 ? sampled : 0.5 * rate + 0.5 * sampled
        finished = 0
        sampleStart = now
        guard rate > 0.1 else { return DrainEstimate.stalledSeconds }
        return min(60, max(1, Int((Double(owed) / rate).rounded(.up))))
    }
}
