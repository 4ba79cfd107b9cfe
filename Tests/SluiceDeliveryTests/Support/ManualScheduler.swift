import SluiceDelivery
import SluiceIO

/// A scheduler on a virtual clock: work runs when the test says so, timers when the test
/// moves the clock past them. What the delivery core schedules can be read off exactly, with
/// no wall-clock waiting.
final class ManualScheduler: DeliveryScheduler, Sendable {
    private struct Timer {
        let due: Int64
        let order: Int
        let body: @Sendable () -> Void
    }

    private struct State {
        var now: Int64 = 1_000_000
        var ready: [@Sendable () -> Void] = []
        var timers: [Timer] = []
        var order = 0
    }

    private let state = Locked(State())

    /// Virtual wall-clock milliseconds.
    var now: Int64 { state.withLock { $0.now } }

    func perform(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.ready.append(body) }
    }

    func perform(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.order += 1
            state.timers.append(Timer(due: state.now + WallClock.milliseconds(delay), order: state.order, body: body))
        }
    }

    func wallClockMilliseconds() -> Int64 { now }

    /// Runs ready work until none is left.
    func runReady() {
        while let next = state.withLock({ $0.ready.isEmpty ? nil : $0.ready.removeFirst() }) { next() }
    }

    /// Moves the clock forward by `milliseconds`, running each timer at its due time, in order.
    func advance(by milliseconds: Int64) {
        let end = now + milliseconds
        runReady()
        while let timer = state.withLock({ state -> Timer? in
            guard let index = state.timers.indices.min(by: { (state.timers[$0].due, state.timers[$0].order) < (state.timers[$1].due, state.timers[$1].order) }),
                  state.timers[index].due <= end else { return nil }
            let timer = state.timers.remove(at: index)
            state.now = max(state.now, timer.due)
            return timer
        }) {
            timer.body()
            runReady()
        }
        state.withLock { $0.now = end }
    }

    /// Timers still waiting.
    var pendingTimers: Int { state.withLock { $0.timers.count } }
}
