import CSluice

/// Monotonic time in nanoseconds. Event loops cache one reading per iteration
/// (`EventLoop.now`), so per-request deadlines cost an addition, not a system call.
public enum Monotonic {
    @inline(__always)
    public static func now() -> UInt64 { csluice_monotonic_ns() }
}

extension Duration {
    /// Whole nanoseconds, saturating at zero for negative durations.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || attoseconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max }
        return whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
