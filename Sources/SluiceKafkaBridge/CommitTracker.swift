import DequeModule

/// Which offset of one partition may be committed when records finish out of order: the
/// records taken, in the order the partition gave them, each marked done when delivered or
/// dead-lettered. The commit point is the offset of the oldest record not done (or the one
/// after the newest when all are), so a commit never skips a record still in flight. Offsets
/// need not be contiguous (compaction and transaction markers leave gaps): order of arrival
/// decides, not arithmetic.
struct CommitTracker {
    private var offsets: Deque<Int64> = []
    private var done: Deque<Bool> = []
    /// The next offset to commit: every record before it is done.
    private(set) var committable: Int64?

    /// Records taken and not yet released by the commit point.
    var outstanding: Int { offsets.count }

    /// A record taken from the partition (offsets increase).
    mutating func taken(_ offset: Int64) {
        if offsets.isEmpty && committable == nil { committable = offset }
        offsets.append(offset)
        done.append(false)
    }

    /// A record finished. Returns the new commit point when it moved.
    mutating func finished(_ offset: Int64) -> Int64? {
        // Records finish roughly in order: search from the front, where most finish.
        guard let index = offsets.firstIndex(of: offset) else { return nil }
        done[index] = true
        var moved = false
        while let first = done.first, first {
            let released = offsets.removeFirst()
            done.removeFirst()
            committable = offsets.first ?? released + 1
            moved = true
        }
        return moved ? committable : nil
    }
}
