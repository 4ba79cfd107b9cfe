import Logging
import SluiceIO
import Synchronization

/// One kind of log line that may repeat for every event (a subscriber down, events
/// dead-lettered): written at most once per interval, with how many were left out since the
/// last one. Safe from any thread.
public final class RateLimitedLog: Sendable {
    private let interval: UInt64
    /// Monotonic time before which the line is not written again.
    private let nextAllowed = Atomic<UInt64>(0)
    private let suppressed = Atomic<Int>(0)

    public init(interval: Duration) {
        self.interval = interval.nanoseconds
    }

    /// Calls `write` with the number of lines left out before this one, or counts this one as
    /// left out.
    public func record(_ write: (_ suppressed: Int) -> Void) {
        let now = Monotonic.now()
        let allowed = nextAllowed.load(ordering: .relaxed)
        guard now >= allowed, nextAllowed.compareExchange(expected: allowed, desired: now &+ interval, ordering: .relaxed).exchanged else {
            suppressed.add(1, ordering: .relaxed)
            return
        }
        write(suppressed.exchange(0, ordering: .relaxed))
    }
}

extension Logger.Metadata {
    /// Adds how many like lines were left out, when some were.
    mutating func noteSuppressed(_ count: Int) {
        if count > 0 { self["suppressed"] = "\(count)" }
    }
}
