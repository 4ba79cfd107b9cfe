@testable import SluiceKafkaBridge
import Testing

@Suite("CommitTracker")
struct CommitTrackerTests {
    @Test("the commit point never passes a record still in flight (random finishing orders against brute force)")
    func againstBruteForce() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var tracker = CommitTracker()
            // Offsets with gaps, as compaction leaves them.
            var offsets: [Int64] = []
            var next = Int64.random(in: 0..<1000, using: &random)
            for _ in 0..<Int.random(in: 1..<40, using: &random) {
                offsets.append(next)
                next += Int64.random(in: 1...3, using: &random)
            }
            for offset in offsets { tracker.taken(offset) }
            var done: Set<Int64> = []
            for offset in offsets.shuffled(using: &random) {
                _ = tracker.finished(offset)
                done.insert(offset)
                let expected = offsets.first { !done.contains($0) } ?? offsets.last! + 1
                #expect(tracker.committable == expected)
            }
            #expect(tracker.outstanding == 0)
        }
    }

    @Test("it moves only when the oldest record finishes")
    func movesInOrder() {
        var tracker = CommitTracker()
        for offset: Int64 in [10, 11, 12] { tracker.taken(offset) }
        #expect(tracker.finished(11) == nil)
        #expect(tracker.finished(10) == 12)
        #expect(tracker.finished(12) == 13)
        #expect(tracker.finished(99) == nil)
    }
}
