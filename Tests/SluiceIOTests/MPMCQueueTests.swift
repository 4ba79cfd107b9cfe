import Dispatch
import SluiceIO
import Synchronization
import Testing

/// Runs each body on its own OS thread and waits for all. Spinning producers and consumers
/// need real threads: Dispatch's pool may have fewer threads than the test has roles.
func runThreads(_ bodies: [@Sendable () -> Void]) {
    let threads = bodies.compactMap { try? LoopThread(name: "test-worker", $0) }
    #expect(threads.count == bodies.count)
    for thread in threads { thread.join() }
}

@Suite("lock-free MPMC queue")
struct MPMCQueueTests {
    @Test func fifoAndBound() {
        let queue = MPMCQueue<Int>(capacity: 5)
        #expect(queue.capacity == 8)
        for value in 0..<8 { #expect(queue.tryEnqueue(value) == nil) }
        #expect(queue.tryEnqueue(99) == 99, "a full queue hands the element back")
        #expect(queue.approximateCount == 8)
        for value in 0..<8 { #expect(queue.tryDequeue() == value) }
        #expect(queue.tryDequeue() == nil)
        #expect(queue.isEmpty)
    }

    @Test func wrapsAroundManyTimes() {
        let queue = MPMCQueue<String>(capacity: 4)
        for round in 0..<1000 {
            #expect(queue.tryEnqueue("a\(round)") == nil)
            #expect(queue.tryEnqueue("b\(round)") == nil)
            #expect(queue.tryDequeue() == "a\(round)")
            #expect(queue.tryDequeue() == "b\(round)")
        }
    }

    @Test func releasesElementsLeftInside() {
        final class Tracked: Sendable {
            let counter: Counter
            init(_ counter: Counter) { self.counter = counter; counter.value.add(1, ordering: .relaxed) }
            deinit { counter.value.subtract(1, ordering: .relaxed) }
        }
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let live = Counter()
        do {
            let queue = MPMCQueue<Tracked>(capacity: 16)
            for _ in 0..<10 { _ = queue.tryEnqueue(Tracked(live)) }
            _ = queue.tryDequeue()
            #expect(live.value.load(ordering: .relaxed) == 9)
        }
        #expect(live.value.load(ordering: .relaxed) == 0)
    }

    /// Producers each push a numbered sequence; consumers check nothing is lost or duplicated
    /// and that each producer's items arrive in order.
    @Test(arguments: [(producers: 4, consumers: 1), (producers: 3, consumers: 3)])
    func stressNothingLostOrDuplicated(producers: Int, consumers: Int) {
        let perProducer = 100_000
        let queue = MPMCQueue<UInt64>(capacity: 1024)
        let seen = Locked<[[Int]]>(Array(repeating: [], count: consumers))
        let violations = Atomic<Int>(0)
        let remaining = Atomic<Int>(producers * perProducer)
        var bodies: [@Sendable () -> Void] = []
        for producer in 0..<producers {
            bodies.append {
                for sequence in 0..<perProducer {
                    var item = UInt64(producer) << 32 | UInt64(sequence)
                    while let back = queue.tryEnqueue(item) { item = back }
                }
            }
        }
        for consumer in 0..<consumers {
            bodies.append {
                var lastByProducer = Array(repeating: -1, count: producers)
                var taken: [Int] = []
                taken.reserveCapacity(producers * perProducer)
                while remaining.load(ordering: .relaxed) > 0 {
                    guard let item = queue.tryDequeue() else { continue }
                    remaining.subtract(1, ordering: .relaxed)
                    let producer = Int(item >> 32)
                    let sequence = Int(item & 0xFFFF_FFFF)
                    if sequence <= lastByProducer[producer] { violations.add(1, ordering: .relaxed) }
                    lastByProducer[producer] = sequence
                    taken.append(producer * perProducer + sequence)
                }
                let mine = taken
                seen.withLock { $0[consumer] = mine }
            }
        }
        runThreads(bodies)
        #expect(violations.load(ordering: .relaxed) == 0)
        var all = seen.withLock { $0 }.flatMap { $0 }
        #expect(all.count == producers * perProducer)
        all.sort()
        var duplicates = 0
        for index in 1..<all.count where all[index] == all[index - 1] { duplicates += 1 }
        #expect(duplicates == 0)
        #expect(all.first == 0 && all.last == producers * perProducer - 1)
    }

    @Test func linkedQueueKeepsPerProducerOrder() {
        let queue = MPSCLinkedQueue<UInt64>()
        let producers = 4
        let perProducer = 100_000
        let violations = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        var bodies: [@Sendable () -> Void] = (0..<producers).map { producer in
            { for sequence in 0..<perProducer { queue.enqueue(UInt64(producer) << 32 | UInt64(sequence)) } }
        }
        bodies.append {
            var last = Array(repeating: -1, count: producers)
            var count = 0
            while count < producers * perProducer {
                guard let item = queue.dequeue() else { continue }
                let producer = Int(item >> 32)
                let sequence = Int(item & 0xFFFF_FFFF)
                if sequence != last[producer] + 1 { violations.add(1, ordering: .relaxed) }
                last[producer] = sequence
                count += 1
            }
            received.store(count, ordering: .relaxed)
        }
        runThreads(bodies)
        #expect(violations.load(ordering: .relaxed) == 0)
        #expect(received.load(ordering: .relaxed) == producers * perProducer)
        #expect(queue.isEmpty)
    }

    @Test func wakeupSignalDeliversEveryBatch() {
        let queue = MPMCQueue<Int>(capacity: 256)
        let signal = WakeupSignal()
        let total = 100_000
        let received = Atomic<Int>(0)
        var bodies: [@Sendable () -> Void] = [{
            var count = 0
            while count < total {
                count += queue.drain { _ in }
                if count < total { signal.wait(timeout: .now() + 5) { !queue.isEmpty } }
            }
            received.store(count, ordering: .relaxed)
        }]
        for _ in 0..<2 {
            bodies.append {
                for value in 0..<(total / 2) {
                    var item = value
                    while let back = queue.tryEnqueue(item) {
                        item = back
                        signal.notify()
                    }
                    signal.notify()
                }
            }
        }
        runThreads(bodies)
        #expect(received.load(ordering: .relaxed) == total)
    }
}
