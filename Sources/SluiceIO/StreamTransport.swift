import Glibc

/// How a connection's bytes reach its peer: the seam between the HTTP engine and the socket.
/// Plain TCP is `SocketTransport`; TLS wraps the same socket behind this protocol. The
/// connection still registers `descriptor` with its loop and calls these when it is ready.
/// Like the syscall wrappers, "would block" is a value, not an error.
public protocol StreamTransport: AnyObject {
    /// The socket, for readiness registration.
    var descriptor: Int32 { get }
    /// Reads what is available into `buffer`; 0 means the peer closed.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int>
    /// Writes as much of `bytes` as the transport takes now.
    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int>
    /// Writes as much of several buffers as the transport takes now, in order.
    func write(vectors: UnsafeBufferPointer<iovec>) throws(IOError) -> IOResult<Int>
    /// No more bytes will be written (TCP: FIN after what is queued).
    func shutdownWrite()
    /// Releases the socket. The connection deregisters it from its loop first.
    func close()
    /// True while the transport holds input it already took from the socket (TLS plaintext
    /// decrypted ahead of the reader), which no readiness event will announce.
    var hasBufferedInput: Bool { get }
    /// Advances what must happen before application bytes flow (TLS's handshake, as a
    /// client): done, or which readiness to wait for before calling again. TCP has nothing.
    func handshake() throws(IOError) -> HandshakeStatus
}

/// Where a transport's handshake stands.
public enum HandshakeStatus: Sendable, Equatable {
    case done
    case wantsReadable
    case wantsWritable
}

extension StreamTransport {
    public var hasBufferedInput: Bool { false }
    public func handshake() throws(IOError) -> HandshakeStatus { .done }
}

/// A plain TCP socket, with the engine's syscall wrappers (MSG_NOSIGNAL sends).
public final class SocketTransport: StreamTransport {
    public let descriptor: Int32

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.read(descriptor, buffer.baseAddress!, buffer.count)
    }

    @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.send(descriptor, bytes.baseAddress!, bytes.count)
    }

    @inline(__always)
    public func write(vectors: UnsafeBufferPointer<iovec>) throws(IOError) -> IOResult<Int> {
        try Syscall.sendv(descriptor, vectors.baseAddress!, Int32(vectors.count))
    }

    public func shutdownWrite() {
        Syscall.shutdownWrite(descriptor)
    }

    public func close() {
        Syscall.close(descriptor)
    }
}
