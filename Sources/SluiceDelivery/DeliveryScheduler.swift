import SluiceIO

/// Where a delivery's steps run and how it tells time: the seam between the delivery core and
/// the event loop. The loop runs everything on one thread with its timers; tests drive a
/// virtual clock instead, so retry schedules are checked without waiting for them.
public protocol DeliveryScheduler: AnyObject, Sendable {
    /// Runs `body` on the scheduler's thread, after what is running now.
    func perform(_ body: @escaping @Sendable () -> Void)
    /// Runs `body` on the scheduler's thread once `delay` has passed.
    func perform(after delay: Duration, _ body: @escaping @Sendable () -> Void)
    /// Milliseconds since the epoch: when a retry is due, in a form that means the same after
    /// a restart.
    func wallClockMilliseconds() -> Int64
}

extension EventLoop: DeliveryScheduler {
    public func perform(_ body: @escaping @Sendable () -> Void) {
        execute(body)
    }

    public func perform(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        schedule(after: delay, body)
    }

    public func wallClockMilliseconds() -> Int64 {
        WallClock.milliseconds()
    }
}
