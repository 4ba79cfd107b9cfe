import SluiceIO

/// The committer: the one thread that writes a store's log.
extension DiskStore {
    func commitLoop() {
        while true {
            // Events are committed as soon as they arrive; bookkeeping (done, retry, trigger
            // records) waits for them or for the interval, whichever comes first.
            var taken = work.wait(until: { $0.hasEvents || $0.closed }, timeout: options.bookkeepingInterval) { work in
                let taken = work
                work.writes.removeAll()
                work.controls.removeAll()
                work.done.removeAll()
                return taken
            }
            if !taken.isEmpty {
                commit(&taken, sync: taken.hasEvents || taken.closed)
            } else if unsynced {
                do throws(StorageError) {
                    try log.sync()
                    counters.syncs.add(1, ordering: .relaxed)
                    unsynced = false
                } catch {
                    failed(error)
                }
            }
            if taken.closed { return }
        }
    }

    /// Writes one batch: control records, then every request's events (numbered here, in
    /// log order), then done records; syncs when it holds events; then queues the events and
    /// completes the requests, or fails them all.
    private func commit(_ taken: inout PendingWork, sync: Bool) {
        batch.removeAll(keepingCapacity: true)
        batch += taken.controls
        var firstSequences: [UInt64] = []
        firstSequences.reserveCapacity(taken.writes.count)
        var eventBytes = 0
        for index in taken.writes.indices {
            firstSequences.append(nextSequence)
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
        for done in taken.done {
            let start = LogRecord.begin(.done, in: &batch)
            batch.appendLittleEndian(done.trigger)
            batch.appendLittleEndian(done.sequence)
            LogRecord.end(start, in: &batch)
        }
        do throws(StorageError) {
            if log.needsRoll(adding: batch.count) { try log.roll(preamble: triggerTable()) }
            try batch.withStorageBytes { bytes throws(StorageError) in
                try log.append(bytes, highestSequence: taken.hasEvents ? nextSequence - 1 : nil)
            }
            if sync {
                try log.sync()
                counters.syncs.add(1, ordering: .relaxed)
            }
            unsynced = !sync
        } catch {
            failed(error)
            pendingBytes.subtract(eventBytes, ordering: .relaxed)
            for write in taken.writes {
                bounds.release(write.entries)
                write.completion(error)
            }
            // Memory stays the truth for deliveries: a done record that did not reach the disk
            // costs a re-delivery after a crash, never a loss.
            release(taken.done)
            return
        }
        pendingBytes.subtract(eventBytes, ordering: .relaxed)
        var events = 0
        let now = Monotonic.now()
        for (index, write) in taken.writes.enumerated() {
            var sequence = firstSequences[index]
            for entry in write.entries {
                log.addOutstanding(entry.queues.count)
                let stored = StoredEvent(event: entry.event, position: StreamPosition(offset: sequence), arrivedAt: now)
                for queue in entry.queues { queue.push(stored) }
                sequence += 1
            }
            events += write.entries.count
            write.completion(nil)
        }
        counters.eventsWritten.add(events, ordering: .relaxed)
        release(taken.done)
    }

    /// Releases the segments of finished deliveries and deletes the ones nothing needs.
    private func release(_ done: [Acknowledgement]) {
        for acknowledgement in done { log.release(sequence: acknowledgement.sequence) }
        let deleted = log.reclaim()
        if deleted > 0 { counters.segmentsReclaimed.add(deleted, ordering: .relaxed) }
        counters.diskBytes.store(log.diskBytes, ordering: .relaxed)
    }

    private func failed(_ error: StorageError) {
        counters.failures.add(1, ordering: .relaxed)
        logger.error("writing the event log failed; requests are answered 503 until it works again", metadata: [
            "directory": "\(options.directory)", "reason": "\(error)",
        ])
    }
}
