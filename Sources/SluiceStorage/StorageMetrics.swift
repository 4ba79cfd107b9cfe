import Synchronization

/// Counters of a durable store.
public final class StorageMetrics: Sendable {
    /// Events written and made durable.
    public let eventsWritten = Atomic<Int>(0)
    /// fdatasync calls that completed.
    public let syncs = Atomic<Int>(0)
    /// Write or sync failures (each answered 503 to the requests it held).
    public let failures = Atomic<Int>(0)
    /// Bytes of log files on disk.
    public let diskBytes = Atomic<Int>(0)
    /// Segments deleted after every trigger was done with them.
    public let segmentsReclaimed = Atomic<Int>(0)

    /// Events of triggers that fell behind, read back from the log into their windows.
    public let eventsReadBack = Atomic<Int>(0)
    /// Log records read at start-up (fewer with a recent checkpoint).
    public let recoveredRecords = Atomic<Int>(0)
    /// Checkpoints written (where each trigger stands, for a quick restart).
    public let checkpoints = Atomic<Int>(0)

    public init() {}
}
