/// A movable deadline chased by at most one armed timer: the pattern that keeps per-request
/// timeouts off the timer heap. Moving the deadline later costs nothing; the armed timer
/// fires at the old time, sees the new deadline and re-arms once. Only moving it earlier
/// arms a new timer (the older one turns stale and is ignored when it fires).
///
/// ```
/// if deadline.move(to: loop.now + timeout) { arm(at: deadline.value) }
/// // in the timer callback, armed for `at`:
/// switch deadline.fired(armedFor: at, now: Monotonic.now()) { ... }
/// ```
public struct Deadline: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// A superseded timer: do nothing.
        case stale
        /// The deadline moved later: arm a timer for this time.
        case rearm(UInt64)
        /// The deadline has passed.
        case expired
    }

    /// The current deadline; `.max` means none.
    public private(set) var value: UInt64 = .max
    private var armedFor: UInt64 = 0

    public init() {}

    /// Moves the deadline; true when the caller must arm a timer for `value`.
    @inline(__always)
    public mutating func move(to at: UInt64) -> Bool {
        value = at
        if at != .max && (armedFor == 0 || at < armedFor) {
            armedFor = at
            return true
        }
        return false
    }

    public mutating func clear() {
        value = .max
    }

    /// Interprets a timer armed for `at` firing at `now`.
    public mutating func fired(armedFor at: UInt64, now: UInt64) -> Outcome {
        guard at == armedFor else { return .stale }
        armedFor = 0
        if value == .max { return .stale }
        if value > now {
            armedFor = value
            return .rearm(value)
        }
        return .expired
    }
}
