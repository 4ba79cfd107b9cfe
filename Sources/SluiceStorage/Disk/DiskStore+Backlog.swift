import SluiceCloudEvents
import SluiceIO

/// Triggers that are behind: their backlogs read back from the log into their windows, released
/// when a trigger is removed, and the checkpoint of where every trigger stands. All on the
/// committer, which also appends: a backlog that reaches the end of the log is caught up for
/// sure, since nothing was committed meanwhile.
extension DiskStore {
    /// Refills the window of every trigger that is behind and has room in it.
    func refillBacklogs() {
        for ledger in ledgers.values where ledger.isBehind && !ledger.queue.isDiscarded && ledger.queue.depth < ledger.queue.capacity {
            var taken = 0
            readBacklog(of: ledger, decode: true) { _, stored, position in
                guard let stored, take(stored, into: ledger.queue) else { return false }
                ledger.took(stored.position.offset, at: position)
                taken += 1
                return true
            }
            if taken > 0 { counters.eventsReadBack.add(taken, ordering: .relaxed) }
        }
    }

    /// A removed trigger's backlog will never be delivered: its events stop holding segments.
    func releaseBacklog(of id: UInt32) {
        guard let ledger = ledgers.removeValue(forKey: id) else { return }
        readBacklog(of: ledger, decode: false) { sequence, _, _ in
            log.release(sequence: sequence)
            return true
        }
        ledger.caughtUp()
        reclaimSegments()
        changedSinceCheckpoint = true
    }

    /// Reads `ledger`'s backlog from where it stands and hands each event still owed to
    /// `visit` (with its sequence, and decoded when `decode` is set), which returns
    /// false to stop before that event and leave it for later. Ends when the backlog reaches
    /// the end of the log (the trigger is live again) or `visit` stops; a read error leaves
    /// the backlog where it was, for the next round.
    private func readBacklog(of ledger: TriggerLedger, decode: Bool, _ visit: (UInt64, StoredEvent?, LogPosition) -> Bool) {
        while let backlog = ledger.backlog {
            var reader: SegmentReader
            if let open = backlog.reader {
                reader = open
            } else {
                guard let size = log.size(of: backlog.position.segment) else {
                    // Deleted: every trigger was done with all of it.
                    guard let next = log.segment(after: backlog.position.segment) else { return ledger.caughtUp() }
                    ledger.backlog = .init(position: LogPosition(segment: next, offset: SegmentedLog.headerBytes))
                    continue
                }
                do throws(StorageError) {
                    reader = try SegmentReader(number: backlog.position.segment, path: log.path(backlog.position.segment),
                                               fileSystem: options.fileSystem,
                                               from: max(backlog.position.offset, SegmentedLog.headerBytes), limit: size)
                } catch {
                    return backlogReadFailed(ledger, error)
                }
            }
            ledger.backlog?.reader = nil  // owned here while reading
            reader.limit = log.size(of: reader.number) ?? reader.limit
            let stop = readRecords(&reader, of: ledger, decode: decode, visit)
            switch stop {
            case .stopped(let offset):
                reader.rewind(to: offset)
                ledger.backlog = .init(position: LogPosition(segment: reader.number, offset: offset), reader: reader)
                return
            case .failed:
                ledger.backlog = .init(position: LogPosition(segment: reader.number, offset: reader.offset), reader: reader)
                return
            case .segmentEnd:
                reader.close()
                guard let next = log.segment(after: reader.number) else { return ledger.caughtUp() }
                ledger.backlog = .init(position: LogPosition(segment: next, offset: SegmentedLog.headerBytes))
            }
        }
    }

    /// Logged at most every ten seconds: the committer tries again every round.
    private func backlogReadFailed(_ ledger: TriggerLedger, _ error: StorageError) {
        let now = Monotonic.now()
        guard lastReadFailureLogged == 0 || now &- lastReadFailureLogged > 10_000_000_000 else { return }
        lastReadFailureLogged = now
        logger.error("reading a trigger's backlog from the log failed; trying again", metadata: [
            "trigger": "\(ledger.queue.key)", "reason": "\(error)",
        ])
    }

    private enum ReadStop {
        case stopped(at: Int)
        case segmentEnd
        case failed
    }

    private func readRecords(_ reader: inout SegmentReader, of ledger: TriggerLedger, decode: Bool,
                             _ visit: (UInt64, StoredEvent?, LogPosition) -> Bool) -> ReadStop {
        let id = ledger.queue.id
        while true {
            let item: SegmentReader.Item
            do throws(StorageError) {
                item = try reader.next()
            } catch {
                backlogReadFailed(ledger, error)
                return .failed
            }
            let at: Int
            switch item {
            case .end:
                return .segmentEnd
            case .tail(let from, _), .skipped(let from, _):
                // What the committer wrote is whole: this is damage recovery found (and
                // reported) or the disk's since.
                logger.warning("damaged log record skipped while reading a backlog", metadata: [
                    "segment": "\(SegmentedLog.fileName(reader.number))", "offset": "\(from)", "trigger": "\(ledger.queue.key)",
                ])
                continue
            case .record(let start):
                at = start
            }
            let found = reader.payload { payload in BacklogRecord(payload, owedTo: id) }
            guard let found else { continue }
            guard found.sequence >= ledger.lowestSequence, ledger.doneBefore.remove(found.sequence) == nil else {
                ledger.passedSequence = found.sequence + 1
                continue
            }
            var stored: StoredEvent?
            if decode {
                let event = reader.payload { payload in
                    CloudEvent(storageBytes: UnsafeRawBufferPointer(rebasing: payload[found.eventBytes...]))
                }
                guard let event else {
                    logger.error("a stored event does not decode; it is dropped", metadata: [
                        "sequence": "\(found.sequence)", "trigger": "\(ledger.queue.key)",
                    ])
                    work.withLock { $0.done.append(Acknowledgement(trigger: id, sequence: found.sequence)) }
                    ledger.passedSequence = found.sequence + 1
                    continue
                }
                var recovered = StoredEvent(event: event, position: StreamPosition(offset: found.sequence))
                if let retry = ledger.retries.removeValue(forKey: found.sequence) {
                    recovered.attemptsMade = retry.attempts
                    recovered.nextAttemptAt = retry.at
                }
                stored = recovered
            }
            guard visit(found.sequence, stored, LogPosition(segment: reader.number, offset: at)) else { return .stopped(at: at) }
            ledger.passedSequence = found.sequence + 1
        }
    }

    // MARK: Checkpoint

    /// Notes where every trigger stands, so a restart starts reading there.
    /// Notes where every trigger stands, in the background unless `waiting` (at close).
    func writeCheckpoint(waiting: Bool = false) {
        // The positions it names must be on disk before it is.
        if unsynced {
            do throws(StorageError) {
                try log.sync()
                unsynced = false
            } catch {
                return failed(error)
            }
        }
        let end = (position: log.end, sequence: nextSequence)
        let (live, nextId) = queues.withLock { state in (state.byKey.values.map { ($0.id, $0.key) }, state.nextId) }
        let triggers = live.map { id, key in
            let standing = ledgers[id]?.standing(end: end) ?? (sequence: end.sequence, position: end.position)
            return LogCheckpoint.Trigger(id: id, key: key, lowestSequence: standing.sequence, position: standing.position)
        }
        let checkpoint = LogCheckpoint(nextSequence: nextSequence, nextTriggerId: nextId, logEnd: end.position,
                                       triggers: triggers.sorted { $0.id < $1.id })
        if waiting {
            checkpointWriter.writeNow(checkpoint)
        } else if !checkpointWriter.offer(checkpoint) {
            return
        }
        lastCheckpoint = Monotonic.now()
        changedSinceCheckpoint = false
    }
}

/// The head of an event record owed to one trigger: its sequence and where the event's bytes
/// start in the payload. Nil for other records, and for events of other triggers.
struct BacklogRecord {
    let sequence: UInt64
    let eventBytes: Int

    init?(_ payload: UnsafeRawBufferPointer, owedTo trigger: UInt32) {
        var reader = PayloadReader(payload)
        guard reader.read(UInt8.self) == LogRecord.Kind.event.rawValue,
              let sequence = reader.read(UInt64.self), sequence < LogRecovery.sequenceLimit,
              let count = reader.read(UInt16.self) else { return nil }
        var owed = false
        for _ in 0..<count {
            guard let id = reader.read(UInt32.self) else { return nil }
            if id == trigger { owed = true }
        }
        guard owed else { return nil }
        self.sequence = sequence
        eventBytes = reader.offset
    }
}
