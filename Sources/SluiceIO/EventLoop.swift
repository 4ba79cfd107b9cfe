import Logging
import Synchronization

let ioLogger = Logger(label: "sluice.io")

/// Something registered with an event loop for readiness of one descriptor.
/// Called on the loop's thread only.
public protocol EventHandler: AnyObject {
    func handle(_ event: ReadyEvent)
}

/// One epoll loop on one thread. Descriptors registered here are handled only on this thread,
/// so the objects behind them need no locks; other threads talk to the loop through `execute`.
///
/// Tags: each registration gets `generation << 32 | fd` as its epoll user data. When a
/// descriptor is closed and the number reused within one batch of events, the stale event
/// carries the old generation and is dropped instead of reaching the new connection.
public final class EventLoop: @unchecked Sendable {
    public typealias Task = @Sendable () -> Void

    private struct Slot {
        var handler: (any EventHandler)?
        var generation: UInt32 = 0
    }

    public let index: Int
    let selector: any Selector
    private var slots = ContiguousArray<Slot>()
    private var generation: UInt32 = 0

    private let tasks = MPSCLinkedQueue<Task>()
    // True while the loop is (about to be) blocked in the selector: only then do producers pay
    // for a wake-up, and only the first of them does.
    private let sleeping = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let ownerThread = Atomic<UInt>(0)

    private var timers = TimerQueue()
    private var dueTimers: [() -> Void] = []
    private var tickHooks: [() -> Void] = []
    private let eventCapacity = 256
    private let events: UnsafeMutableBufferPointer<ReadyEvent>

    /// The monotonic time read once per loop iteration, in nanoseconds.
    public private(set) var now: UInt64

    static let current = ThreadSpecific<EventLoop>()

    public init(index: Int, selector: any Selector) {
        self.index = index
        self.selector = selector
        self.now = Monotonic.now()
        events = .allocate(capacity: eventCapacity)
        events.initialize(repeating: ReadyEvent(tag: 0, mask: 0))
    }

    deinit {
        events.deallocate()
    }

    /// The loop running on the calling thread, if any.
    public static var currentLoop: EventLoop? { current.value }

    public var inEventLoop: Bool { EventLoop.current.value === self }

    // MARK: Registration (loop thread only)

    /// Registers `fd` for `interest`; events go to `handler` until `deregister`.
    public func register(_ handler: any EventHandler, fd: Int32, interest: Interest) throws(IOError) {
        let index = Int(fd)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(), count: max(index + 1 - slots.count, slots.count)))
        }
        generation &+= 1
        if generation == 0 { generation = 1 }
        try selector.register(fd: fd, interest: interest, tag: tag(fd: fd, generation: generation))
        slots[index] = Slot(handler: handler, generation: generation)
    }

    public func reregister(fd: Int32, interest: Interest) throws(IOError) {
        let index = Int(fd)
        guard index < slots.count, slots[index].handler != nil else { return }
        try selector.reregister(fd: fd, interest: interest, tag: tag(fd: fd, generation: slots[index].generation))
    }

    /// Stops events for `fd`. Call before closing it.
    public func deregister(fd: Int32) {
        let index = Int(fd)
        guard index < slots.count, slots[index].handler != nil else { return }
        slots[index].handler = nil
        try? selector.deregister(fd: fd)
    }

    @inline(__always)
    private func tag(fd: Int32, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    // MARK: Work from any thread

    /// Runs `task` on the loop's thread, after the current batch of events.
    public func execute(_ task: @escaping Task) {
        tasks.enqueue(task)
        // Pairs with the fence in `run()`: either the loop sees our task before sleeping, or we
        // see it sleeping and wake it.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .relaxed), sleeping.exchange(false, ordering: .sequentiallyConsistent) {
            selector.wakeup()
        }
    }

    /// Asks the loop to return from `run()` after its current iteration.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        selector.wakeup()
    }

    // MARK: Timers and hooks (loop thread only)

    /// Runs `action` on this loop at or soon after the monotonic time `deadline`.
    @discardableResult
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        timers.schedule(at: deadline, action)
    }

    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping () -> Void) -> TimerID {
        timers.schedule(at: Monotonic.now() &+ delay.nanoseconds, action)
    }

    public func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// Adds work that runs at the end of every loop iteration, after events, timers and tasks:
    /// the place to flush what the iteration batched up.
    public func addTickHook(_ hook: @escaping () -> Void) {
        tickHooks.append(hook)
    }

    // MARK: The loop

    /// Runs until `stop()`. Call on the thread that will own the loop.
    public func run() {
        EventLoop.current.value = self
        defer { EventLoop.current.value = nil }
        while !stopRequested.load(ordering: .acquiring) {
            var timeout = timeoutUntilNextTimer()
            if timeout != 0 {
                sleeping.store(true, ordering: .sequentiallyConsistent)
                atomicMemoryFence(ordering: .sequentiallyConsistent)
                if hasPendingTasks || stopRequested.load(ordering: .acquiring) {
                    sleeping.store(false, ordering: .relaxed)
                    timeout = 0
                }
            }
            let count: Int
            do {
                count = try selector.wait(into: events, timeoutMilliseconds: timeout)
            } catch {
                // epoll_wait only fails on programming errors (EBADF, EINVAL); do not spin.
                ioLogger.critical("event loop \(index): \(error); stopping")
                break
            }
            sleeping.store(false, ordering: .relaxed)
            now = Monotonic.now()
            for position in 0..<count {
                dispatch(events[position])
            }
            runExpiredTimers()
            runTasks()
            for hook in tickHooks { hook() }
        }
        runTasks()
    }

    @inline(__always)
    private func dispatch(_ event: ReadyEvent) {
        if event.tag == wakeupTag { return }
        let index = Int(truncatingIfNeeded: event.tag & 0xFFFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: event.tag >> 32)
        guard index < slots.count, slots[index].generation == generation, let handler = slots[index].handler else {
            return  // a closed descriptor's event, possibly for a reused number
        }
        handler.handle(event)
    }

    private var hasPendingTasks: Bool {
        !tasks.isEmpty
    }

    private func timeoutUntilNextTimer() -> Int32 {
        if hasPendingTasks { return 0 }
        guard let deadline = timers.nextDeadline() else { return -1 }
        let current = Monotonic.now()
        if deadline <= current { return 0 }
        // Round up so a timer never fires a little early and spins once more.
        let milliseconds = (deadline - current + 999_999) / 1_000_000
        return Int32(min(milliseconds, UInt64(Int32.max)))
    }

    private func runExpiredTimers() {
        timers.popExpired(now: now, into: &dueTimers)
        if dueTimers.isEmpty { return }
        let due = dueTimers
        dueTimers.removeAll(keepingCapacity: true)
        for action in due { action() }
    }

    private func runTasks() {
        // Bounded so a flood of tasks cannot starve socket events; the rest run next iteration.
        var budget = 4096
        while budget > 0, let task = tasks.dequeue() {
            task()
            budget -= 1
        }
    }
}
