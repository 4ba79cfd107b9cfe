import Synchronization

/// An unbounded, lock-free, multi-producer single-consumer FIFO queue (Dmitry Vyukov's
/// intrusive-list design), used for tasks sent to an event loop.
///
/// Guarantees:
/// - **Producers**: any number, on any threads; `enqueue` is wait-free (one atomic exchange and
///   one store) and never fails. **Consumer**: exactly one thread (the owning loop).
/// - **Ordering**: FIFO in exchange order; in particular the items of one producer come out in
///   the order it enqueued them.
/// - **Bound**: none; each item costs one node allocation. Use it where refusing work is not an
///   option (a loop must accept tasks sent to it, including from itself) and the rate is modest.
///   The bounded hot path between ingress and delivery is `MPMCQueue`.
/// - **Progress**: a producer preempted between its exchange and its link store hides the items
///   behind it until it resumes; the consumer then sees the queue as empty. Producers wake the
///   consumer only after linking, so the consumer is never left asleep with items queued.
public final class MPSCLinkedQueue<Element>: @unchecked Sendable {
    private struct Node: ~Copyable {
        let next = Atomic<UnsafeMutablePointer<Node>?>(nil)
        var value: Element?
    }

    /// Where producers append (the newest node).
    private let tail: Atomic<UnsafeMutablePointer<Node>>
    /// The consumer's stub: the node before the oldest item.
    private var head: UnsafeMutablePointer<Node>

    public init() {
        let stub = UnsafeMutablePointer<Node>.allocate(capacity: 1)
        stub.initialize(to: Node(value: nil))
        head = stub
        tail = Atomic(stub)
    }

    deinit {
        while dequeue() != nil {}
        head.deinitialize(count: 1)
        head.deallocate()
    }

    /// Appends `element`. Callable from any thread.
    public func enqueue(_ element: Element) {
        let node = UnsafeMutablePointer<Node>.allocate(capacity: 1)
        node.initialize(to: Node(value: element))
        let previous = tail.exchange(node, ordering: .acquiringAndReleasing)
        previous.pointee.next.store(node, ordering: .releasing)
    }

    /// Removes the oldest element, or nil when none is (fully) linked yet. Consumer thread only.
    public func dequeue() -> Element? {
        guard let next = head.pointee.next.load(ordering: .acquiring) else { return nil }
        let element = next.pointee.value.take()
        head.deinitialize(count: 1)
        head.deallocate()
        head = next
        return element
    }

    /// True when the consumer would find nothing. Exact only on the consumer thread.
    public var isEmpty: Bool {
        head.pointee.next.load(ordering: .acquiring) == nil
    }
}
