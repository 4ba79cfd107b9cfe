import Synchronization

/// A bounded, lock-free, multi-producer multi-consumer FIFO queue (Dmitry Vyukov's
/// array-based design), the hand-off between event loops and delivery.
///
/// Guarantees:
/// - **Producers and consumers**: any number of each, on any threads. Neither side takes a lock
///   or allocates; each operation is one compare-and-swap on its position counter plus one
///   acquire/release pair on the slot's sequence number.
/// - **Ordering**: FIFO in the order producers won their positions. Two items enqueued by one
///   producer are dequeued in that order; items of different producers interleave.
/// - **Bound**: `capacity` (rounded up to a power of two) items. `tryEnqueue` on a full queue
///   returns the item back instead of waiting, so the caller chooses its backpressure
///   (answer 503, keep the item, or retry later). Nothing is ever dropped or duplicated.
/// - **Progress**: a producer that stalls between claiming a slot and publishing it holds up
///   every consumer, since dequeues go strictly by position: they see "nothing ready" (while
///   `approximateCount` says otherwise) until it resumes. This is the design's known trade for
///   its speed; producers never block or call out while holding a slot, so the window is a
///   few instructions unless the thread is preempted right there.
/// - **Wake-ups** are not this type's job: pair it with an `EventLoop` (whose `execute` coalesces
///   wake-ups) or a `WakeupSignal`, which signal a consumer only when it is about to sleep.
public final class MPMCQueue<Element>: @unchecked Sendable {
    private let mask: Int
    private let sequences: UnsafeMutablePointer<Atomic<Int>>
    private let values: UnsafeMutablePointer<Element>
    // Producers and consumers each own a counter; padding keeps them on separate cache lines.
    private let enqueuePosition = PaddedCounter()
    private let dequeuePosition = PaddedCounter()

    public let capacity: Int

    public init(capacity requested: Int) {
        var size = 2
        while size < requested { size <<= 1 }
        capacity = size
        mask = size - 1
        sequences = .allocate(capacity: size)
        for index in 0..<size {
            (sequences + index).initialize(to: Atomic(index))
        }
        values = .allocate(capacity: size)
    }

    deinit {
        while tryDequeue() != nil {}
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        values.deallocate()
    }

    /// Adds `element` at the tail; returns it back when the queue is full.
    @inline(__always)
    public func tryEnqueue(_ element: consuming Element) -> Element? {
        var position = enqueuePosition.value.load(ordering: .relaxed)
        while true {
            let index = position & mask
            let sequence = sequences[index].load(ordering: .acquiring)
            let difference = sequence &- position
            if difference == 0 {
                let (exchanged, current) = enqueuePosition.value.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if exchanged {
                    (values + index).initialize(to: element)
                    sequences[index].store(position &+ 1, ordering: .releasing)
                    return nil
                }
                position = current
            } else if difference < 0 {
                return element
            } else {
                position = enqueuePosition.value.load(ordering: .relaxed)
            }
        }
    }

    /// Removes the head, or nil when the queue is empty (or its head is still being published).
    @inline(__always)
    public func tryDequeue() -> Element? {
        var position = dequeuePosition.value.load(ordering: .relaxed)
        while true {
            let index = position & mask
            let sequence = sequences[index].load(ordering: .acquiring)
            let difference = sequence &- (position &+ 1)
            if difference == 0 {
                let (exchanged, current) = dequeuePosition.value.weakCompareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if exchanged {
                    let element = (values + index).move()
                    sequences[index].store(position &+ mask &+ 1, ordering: .releasing)
                    return element
                }
                position = current
            } else if difference < 0 {
                return nil
            } else {
                position = dequeuePosition.value.load(ordering: .relaxed)
            }
        }
    }

    /// Moves up to `limit` elements to `body`, in order. Returns how many were taken.
    @inline(__always)
    public func drain(limit: Int = .max, _ body: (consuming Element) -> Void) -> Int {
        var taken = 0
        while taken < limit, let element = tryDequeue() {
            body(element)
            taken += 1
        }
        return taken
    }

    /// An estimate: exact when no other thread is operating on the queue.
    public var approximateCount: Int {
        let tail = enqueuePosition.value.load(ordering: .relaxed)
        let head = dequeuePosition.value.load(ordering: .relaxed)
        return max(0, min(capacity, tail &- head))
    }

    public var isEmpty: Bool { approximateCount == 0 }
}

/// An atomic counter alone on its cache line, so producers and consumers do not false-share.
final class PaddedCounter: Sendable {
    private let before: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    let value = Atomic<Int>(0)
    private let after: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
}
