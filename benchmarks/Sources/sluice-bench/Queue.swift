import DequeModule
import Glibc
import SluiceIO
import Synchronization

/// 2 producers and 1 consumer move `items` integers through a queue; both the lock-free
/// `MPMCQueue` and a `Mutex<Deque>` baseline, with the same capacity and the same retry policy
/// (yield the CPU when full or empty). Prints items per second for each and the ratio.
func runQueueBenchmark(items: Int) {
    let capacity = 4096
    let lockFree = MPMCQueue<Int>(capacity: capacity)
    let lockFreeRate = measure(items: items, enqueue: { lockFree.tryEnqueue($0) == nil }, dequeue: { lockFree.tryDequeue() })
    let locked = LockedDeque(capacity: capacity)
    let lockedRate = measure(items: items, enqueue: { locked.tryEnqueue($0) }, dequeue: { locked.tryDequeue() })
    print("queue: MPMCQueue \(lockFreeRate) items/s, Mutex+Deque \(lockedRate) items/s, ratio \(String(format2: Double(lockFreeRate) / Double(lockedRate)))x (2 producers, 1 consumer, \(items) items)")
}

final class LockedDeque: Sendable {
    private let storage: Mutex<Deque<Int>>
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        var deque = Deque<Int>()
        deque.reserveCapacity(capacity)
        storage = Mutex(deque)
    }

    func tryEnqueue(_ value: Int) -> Bool {
        storage.withLock { deque in
            guard deque.count < capacity else { return false }
            deque.append(value)
            return true
        }
    }

    func tryDequeue() -> Int? {
        storage.withLock { $0.popFirst() }
    }
}

private func measure(items: Int, enqueue: @escaping @Sendable (Int) -> Bool, dequeue: @escaping @Sendable () -> Int?) -> Int {
    let perProducer = items / 2
    let sum = Atomic<Int>(0)
    let started = Monotonic.now()
    let bodies: [@Sendable () -> Void] = [
        { for value in 0..<perProducer { while !enqueue(value) { sched_yield() } } },
        { for value in 0..<perProducer { while !enqueue(value) { sched_yield() } } },
        {
            var received = 0
            var total = 0
            while received < perProducer * 2 {
                if let value = dequeue() {
                    total &+= value
                    received += 1
                } else {
                    sched_yield()
                }
            }
            sum.store(total, ordering: .relaxed)
        },
    ]
    let threads = bodies.compactMap { try? LoopThread(name: "queue-bench", $0) }
    for thread in threads { thread.join() }
    let elapsed = Double(Monotonic.now() - started) / 1e9
    precondition(sum.load(ordering: .relaxed) == (perProducer * (perProducer - 1) / 2) * 2, "items lost")
    return Int(Double(perProducer * 2) / elapsed)
}
