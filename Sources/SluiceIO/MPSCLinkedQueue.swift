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
    // A node is raw memory: the atomic `next` link at offset 0, the element after it. The two
    // fields are reached through separate typed pointers so that taking the element out never
    // forms an access to the whole node while a producer stores into its link.
    private typealias Link = Atomic<UnsafeMutableRawPointer?>

    private static var valueOffset: Int {
        let alignment = MemoryLayout<Element>.alignment
        return (MemoryLayout<Link>.stride + alignment - 1) / alignment * alignment
    }

    private static var nodeAlignment: Int { max(MemoryLayout<Link>.alignment, MemoryLayout<Element>.alignment) }

    @inline(__always)
    private static func link(_ node: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Link> {
        node.assumingMemoryBound(to: Link.self)
    }

    @inline(__always)
    private static func value(_ node: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Element> {
        (node + valueOffset).assumingMemoryBound(to: Element.self)
    }

    private static func makeNode() -> UnsafeMutableRawPointer {
        let node = UnsafeMutableRawPointer.allocate(byteCount: valueOffset + MemoryLayout<Element>.size, alignment: nodeAlignment)
        node.bindMemory(to: Link.self, capacity: 1).initialize(to: Link(nil))
        return node
    }

    private static func freeNode(_ node: UnsafeMutableRawPointer) {
        link(node).deinitialize(count: 1)
        node.deallocate()
    }

    /// Where producers append (the newest node).
    private let tail: Atomic<UnsafeMutableRawPointer>
    /// The consumer's stub: the node before the oldest item; its element slot is empty.
    private var head: UnsafeMutableRawPointer

    public init() {
        let stub = MPSCLinkedQueue.makeNode()
        head = stub
        tail = Atomic(stub)
    }

    deinit {
        while dequeue() != nil {}
        MPSCLinkedQueue.freeNode(head)
    }

    /// Appends `element`. Callable from any thread.
    public func enqueue(_ element: Element) {
        let node = MPSCLinkedQueue.makeNode()
        (node + MPSCLinkedQueue.valueOffset).bindMemory(to: Element.self, capacity: 1).initialize(to: element)
        let previous = tail.exchange(node, ordering: .acquiringAndReleasing)
        MPSCLinkedQueue.link(previous).pointee.store(node, ordering: .releasing)
    }

    /// Removes the oldest element, or nil when none is (fully) linked yet. Consumer thread only.
    public func dequeue() -> Element? {
        guard let next = MPSCLinkedQueue.link(head).pointee.load(ordering: .acquiring) else { return nil }
        let element = MPSCLinkedQueue.value(next).move()
        MPSCLinkedQueue.freeNode(head)
        head = next
        return element
    }

    /// True when the consumer would find nothing. Exact only on the consumer thread.
    public var isEmpty: Bool {
        MPSCLinkedQueue.link(head).pointee.load(ordering: .acquiring) == nil
    }
}
