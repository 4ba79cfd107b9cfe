import CSluice
import Glibc

/// The one error type of the I/O engine: a failed system call and its errno.
public struct IOError: Error, CustomStringConvertible, Sendable, Equatable {
    public let errno: Int32
    public let call: String

    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    public var description: String {
        errno == IOError.untrustedPeer ? call : "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// The code a TLS transport reports when the peer's certificate did not verify (the
    /// kernel's "key rejected", which no socket call returns), so the layers above can tell
    /// it from a failed connection.
    public static let untrustedPeer = EKEYREJECTED

    /// The peer went away: the usual end of a TCP conversation rather than a fault.
    public var isDisconnect: Bool {
        errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN || errno == ESHUTDOWN
    }
}

/// The outcome of a non-blocking call: done with a value, or the kernel had nothing ready.
/// "Would block" is a value, not an error, because on a non-blocking socket it is the normal case.
public enum IOResult<Value> {
    case done(Value)
    case wouldBlock
}

/// Thin wrappers over the system calls the engine uses. Each retries on EINTR, returns
/// EAGAIN/EWOULDBLOCK as `.wouldBlock`, and throws `IOError` for every other failure.
public enum Syscall {
    @inline(__always)
    static func isWouldBlock(_ code: Int32) -> Bool { code == EAGAIN || code == EWOULDBLOCK }

    @inline(__always)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) throws(IOError) -> IOResult<Int> {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return .done(n) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if isWouldBlock(code) { return .wouldBlock }
            throw IOError(errno: code, call: "read")
        }
    }

    /// Sends on a socket. MSG_NOSIGNAL makes a write to a peer that went away fail with EPIPE
    /// instead of raising SIGPIPE, so the engine needs no process-wide signal policy.
    @inline(__always)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) throws(IOError) -> IOResult<Int> {
        while true {
            let n = Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .done(n) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if isWouldBlock(code) { return .wouldBlock }
            throw IOError(errno: code, call: "send")
        }
    }

    /// Sends several buffers on a socket with one call (sendmsg, MSG_NOSIGNAL as in `send`).
    @inline(__always)
    public static func sendv(_ fd: Int32, _ vectors: UnsafePointer<iovec>, _ count: Int32) throws(IOError) -> IOResult<Int> {
        var message = msghdr()
        message.msg_iov = UnsafeMutablePointer(mutating: vectors)
        message.msg_iovlen = Int(count)
        while true {
            let n = Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .done(n) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if isWouldBlock(code) { return .wouldBlock }
            throw IOError(errno: code, call: "sendmsg")
        }
    }

    /// Accepts one pending connection as a non-blocking, close-on-exec socket.
    public static func accept(_ fd: Int32) throws(IOError) -> IOResult<Int32> {
        while true {
            let client = csluice_accept(fd, nil, nil)
            if client >= 0 { return .done(client) }
            let code = Glibc.errno
            if code == EINTR { continue }
            // The connection was reset while queued; the next one may be fine.
            if code == ECONNABORTED || code == EPROTO { continue }
            if isWouldBlock(code) { return .wouldBlock }
            throw IOError(errno: code, call: "accept4")
        }
    }

    /// Starts a connect; `.wouldBlock` means it is in progress and completes on writability.
    public static func connect(_ fd: Int32, _ address: SocketAddress) throws(IOError) -> IOResult<Void> {
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return .done(()) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EINPROGRESS || isWouldBlock(code) { return .wouldBlock }
            throw IOError(errno: code, call: "connect")
        }
    }

    /// Closes a descriptor. EINTR is not retried: Linux has released the descriptor already,
    /// and retrying could close one that another thread just opened.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    @inline(__always)
    static func check(_ rc: Int32, _ call: String) throws(IOError) {
        if rc < 0 { throw IOError(errno: Glibc.errno, call: call) }
    }

}
