import CSluice

/// A non-blocking eventfd that something outside the event loops (a C library's own threads)
/// writes to and a loop watches for readability: how librdkafka tells a loop that its queue went
/// from empty to non-empty (`rd_kafka_queue_io_event_enable` writes `increment` to `fd`).
public final class EventCounter: Sendable {
    public let fd: Int32
    /// What a writer writes to add one: an eventfd takes exactly eight bytes, a native uint64.
    public static let increment: [UInt8] = withUnsafeBytes(of: UInt64(1)) { Array($0) }

    public init() throws(IOError) {
        let fd = csluice_eventfd()
        try Syscall.check(fd, "eventfd")
        self.fd = fd
    }

    /// Adds one (from any thread).
    public func signal() {
        _ = csluice_eventfd_signal(fd)
    }

    /// Resets the count to zero, so the next write makes the descriptor readable again.
    public func drain() {
        _ = csluice_eventfd_drain(fd)
    }

    /// Closes the descriptor: after the writer stopped writing and the loop deregistered it.
    public func close() {
        Syscall.close(fd)
    }
}
