import Dispatch
import Synchronization

/// Wakes a consumer thread that sleeps when its queue is empty, with at most one wake-up per
/// sleep: producers pay one atomic exchange per `notify()`, and only the producer that finds the
/// consumer asleep pays for the semaphore. A busy consumer is never signalled at all.
///
/// Consumer loop:
/// ```
/// while running {
///     queue.drain { ... }
///     signal.wait(unless: { !queue.isEmpty })
/// }
/// ```
public final class WakeupSignal: Sendable {
    private static let awake = 0
    private static let sleeping = 1

    private let state = Atomic<Int>(WakeupSignal.awake)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    /// Called by producers after they publish work.
    @inline(__always)
    public func notify() {
        // Pairs with the fence in `wait`: either the consumer sees the published work before
        // it sleeps, or we see it sleeping (store-buffering needs a full fence on both sides).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if state.load(ordering: .relaxed) == Self.sleeping,
           state.exchange(Self.awake, ordering: .sequentiallyConsistent) == Self.sleeping {
            semaphore.signal()
        }
    }

    /// Called by the single consumer: sleeps until notified or `timeout`, unless `ready()` says
    /// work arrived while it was deciding to sleep.
    public func wait(timeout: DispatchTime = .distantFuture, unless ready: () -> Bool) {
        state.store(Self.sleeping, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if ready() {
            cancelSleep()
            return
        }
        if semaphore.wait(timeout: timeout) == .timedOut {
            cancelSleep()
        }
    }

    private func cancelSleep() {
        // A producer that saw us sleeping has signalled (or will); take its token so the next
        // wait does not return spuriously.
        if state.exchange(Self.awake, ordering: .sequentiallyConsistent) == Self.awake {
            semaphore.wait()
        }
    }
}
