import CSluice
import Glibc

/// Creation and configuration of TCP sockets. Every socket is non-blocking and close-on-exec.
public enum Socket {
    /// A listening socket bound to `address`. With `reusePort`, several sockets (one per event
    /// loop) can bind the same port and the kernel spreads incoming connections over them.
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool) throws(IOError) -> Int32 {
        let fd = csluice_stream_socket(address.family)
        try Syscall.check(fd, "socket")
        do {
            try Syscall.check(csluice_set_reuseaddr(fd), "setsockopt(SO_REUSEADDR)")
            if reusePort { try Syscall.check(csluice_set_reuseport(fd), "setsockopt(SO_REUSEPORT)") }
            let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
            try Syscall.check(rc, "bind(\(address))")
            try Syscall.check(Glibc.listen(fd, backlog), "listen")
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// A socket with a connect to `address` started. `connected` is false while the kernel is
    /// still completing the handshake; the socket becomes writable when it is done.
    public static func connect(to address: SocketAddress) throws(IOError) -> (fd: Int32, connected: Bool) {
        let fd = csluice_stream_socket(address.family)
        try Syscall.check(fd, "socket")
        _ = csluice_set_nodelay(fd)
        do {
            switch try Syscall.connect(fd, address) {
            case .done: return (fd, true)
            case .wouldBlock: return (fd, false)
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// The address a socket is bound to (the port the kernel chose for port 0).
    public static func localAddress(of fd: Int32) throws(IOError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        try Syscall.check(rc, "getsockname")
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
        }
        guard let address else { throw IOError(errno: EAFNOSUPPORT, call: "getsockname") }
        return address
    }

    /// The error a non-blocking connect finished with, or nil when it succeeded.
    public static func pendingError(of fd: Int32) -> IOError? {
        let code = csluice_socket_error(fd)
        if code == 0 { return nil }
        return IOError(errno: code < 0 ? Glibc.errno : code, call: "connect")
    }

    public static func setNoDelay(_ fd: Int32) {
        _ = csluice_set_nodelay(fd)
    }

    /// Makes the next close send RST instead of FIN: used when refusing a connection we will
    /// not serve, so the peer does not wait on it.
    public static func setResetOnClose(_ fd: Int32) {
        _ = csluice_set_linger_zero(fd)
    }
}
