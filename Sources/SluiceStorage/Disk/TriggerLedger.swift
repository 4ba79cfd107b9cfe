import DequeModule

/// What the committer knows of one trigger: which of its events are in its memory window, and,
/// while it is behind, where its backlog starts in the log. Confined to the committer.
///
/// A trigger is *live* while its window has room: each event it matches goes into the window
/// as the event is committed. When the window is full (or the broker's memory bound is reached)
/// the trigger falls *behind*: later events stay in the log only, and `backlog` remembers the
/// first record not taken. The committer refills the window from there as deliveries finish,
/// and the trigger is live again once the backlog reaches the end of the log. Memory per
/// trigger is bounded by the window, whatever the backlog.
final class TriggerLedger {
    /// An event in the window, and where its record is.
    struct Held {
        let sequence: UInt64
        let position: LogPosition
    }

    /// A backlog read back from the log.
    struct Backlog {
        /// The next record to look at.
        var position: LogPosition
        /// Open on `position.segment` once reading started.
        var reader: SegmentReader?
    }

    let queue: RingTriggerQueue
    /// Events in the window not yet done, oldest first.
    private(set) var held: Deque<Held> = []
    /// Events in the window done before older ones were.
    private var doneAhead: Set<UInt64> = []
    var backlog: Backlog?
    /// Events below it are done (as recovered from a checkpoint).
    var lowestSequence: UInt64 = 0
    /// Events the trigger was done with before a restart, above `lowestSequence`: skipped when
    /// the backlog reaches them.
    var doneBefore: Set<UInt64> = []
    /// Retry state of events recovered in the middle of their retries.
    var retries: [UInt64: (attempts: Int, at: Int64)] = [:]
    /// Of the events passed while reading the backlog, the highest sequence plus one.
    var passedSequence: UInt64 = 0

    init(queue: RingTriggerQueue) {
        self.queue = queue
    }

    /// A trigger as recovery found it: behind from where its owed events start.
    init(queue: RingTriggerQueue, recovered: LogRecovery.TriggerStart) {
        self.queue = queue
        lowestSequence = recovered.lowestSequence
        passedSequence = recovered.lowestSequence
        doneBefore = recovered.doneBefore
        retries = recovered.retries
        backlog = Backlog(position: recovered.position)
        queue.setBehind(true)
    }

    deinit {
        backlog?.reader?.close()
    }

    var isBehind: Bool { backlog != nil }

    /// `sequence` at `position` went into the window.
    func took(_ sequence: UInt64, at position: LogPosition) {
        held.append(Held(sequence: sequence, position: position))
    }

    /// The trigger is done with `sequence`.
    func done(_ sequence: UInt64) {
        guard let first = held.first else { return }
        guard first.sequence == sequence else {
            doneAhead.insert(sequence)
            return
        }
        held.removeFirst()
        while let next = held.first, doneAhead.remove(next.sequence) != nil { held.removeFirst() }
    }

    /// Falls behind at the event `sequence` at `position`: it and what follows wait in the log.
    func fallBehind(at position: LogPosition, sequence: UInt64) {
        backlog = Backlog(position: position)
        passedSequence = max(passedSequence, sequence)
        queue.setBehind(true)
    }

    /// The backlog reached the end of the log: events go to the window as they are committed.
    func caughtUp() {
        backlog?.reader?.close()
        backlog = nil
        doneBefore = []
        retries = [:]
        queue.setBehind(false)
    }

    /// Where the trigger stands for a checkpoint: the lowest sequence it is not done with and
    /// a position at or before its record. `end` is the log's end and next sequence.
    func standing(end: (position: LogPosition, sequence: UInt64)) -> (sequence: UInt64, position: LogPosition) {
        if let first = held.first { return (first.sequence, first.position) }
        if let backlog { return (max(lowestSequence, passedSequence), backlog.position) }
        return (end.sequence, end.position)
    }
}
