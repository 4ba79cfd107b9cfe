import CSluice

/// The wall clock (CLOCK_REALTIME): what timestamps, HTTP dates and retry times that must mean
/// the same after a restart are read from. Durations and deadlines use `Monotonic` instead.
public enum WallClock {
    /// Seconds and nanoseconds since the epoch.
    @inline(__always)
    public static func now() -> (seconds: Int64, nanoseconds: Int32) {
        var seconds: Int64 = 0
        var nanoseconds: Int32 = 0
        csluice_realtime(&seconds, &nanoseconds)
        return (seconds, nanoseconds)
    }

    /// Whole seconds since the epoch.
    public static func seconds() -> Int64 { now().seconds }

    /// Milliseconds since the epoch.
    public static func milliseconds() -> Int64 {
        let (seconds, nanoseconds) = now()
        return seconds * 1000 + Int64(nanoseconds / 1_000_000)
    }

    /// `duration` in whole milliseconds.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
