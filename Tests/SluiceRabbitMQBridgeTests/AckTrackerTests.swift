@testable import SluiceRabbitMQBridge
import Testing

@Suite("AckTracker")
struct AckTrackerTests {
    @Test("in-order acks collapse into one multiple ack; one behind a gap goes out alone at once")
    func collapsing() {
        var tracker = AckTracker()
        for tag in 1...6 { tracker.delivered(UInt64(tag)) }
        #expect(tracker.settle([(1, .ack), (2, .ack), (3, .ack)]) == [.ack(3, multiple: true)])
        #expect(tracker.settle([(5, .ack)]) == [.ack(5, multiple: false)])
        #expect(tracker.settle([(4, .nack), (6, .ack)]) == [.nack(4), .ack(6, multiple: false)])
        #expect(tracker.outstanding == 0)
        #expect(tracker.settle([(6, .ack), (9, .ack)]).isEmpty, "settled twice or never delivered: nothing to send")
    }

    @Test("released deliveries are never acked, not even by a multiple ack")
    func release() {
        var tracker = AckTracker()
        for tag in 1...4 { tracker.delivered(UInt64(tag)) }
        #expect(tracker.settle([(1, .release)]).isEmpty)
        #expect(tracker.settle([(2, .ack), (3, .ack)]) == [.ack(2, multiple: false), .ack(3, multiple: false)])
    }

    @Test("against brute force: every acked tag is acknowledged once, and nothing else")
    func againstBruteForce() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var tracker = AckTracker()
            let count = Int.random(in: 1...40, using: &random)
            var settlements: [(tag: UInt64, settlement: AckTracker.Settlement)] = []
            for tag in 1...UInt64(count) {
                tracker.delivered(tag)
                settlements.append((tag, Bool.random(using: &random) || Bool.random(using: &random) ? .ack : .nack))
            }
            settlements.shuffle(using: &random)
            // The server's view: tags unacknowledged, and what each frame did.
            var unacknowledged = Set(1...UInt64(count))
            var acked: Set<UInt64> = []
            var nacked: Set<UInt64> = []
            while !settlements.isEmpty {
                let batch = Array(settlements.prefix(Int.random(in: 1...5, using: &random)))
                settlements.removeFirst(batch.count)
                for frame in tracker.settle(batch) {
                    switch frame {
                    case .ack(let tag, multiple: false):
                        #expect(unacknowledged.remove(tag) != nil)
                        acked.insert(tag)
                    case .ack(let tag, multiple: true):
                        #expect(unacknowledged.contains(tag), "a multiple ack names a tag the server still holds")
                        for held in unacknowledged where held <= tag { acked.insert(held) }
                        unacknowledged = unacknowledged.filter { $0 > tag }
                    case .nack(let tag):
                        #expect(unacknowledged.remove(tag) != nil)
                        nacked.insert(tag)
                    }
                }
            }
            #expect(unacknowledged.isEmpty && tracker.outstanding == 0)
            let wanted = Set((1...UInt64(count)).filter { tag in !nacked.contains(tag) })
            #expect(acked == wanted)
        }
    }
}
