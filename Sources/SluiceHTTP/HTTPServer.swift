import Dispatch
import Glibc
import Logging
import SluiceIO
import Synchronization

/// Limits and timeouts of the HTTP server. The defaults suit a broker ingress.
public struct HTTPServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 8080
    public var head = HeadLimits()
    public var maxBodyBytes = 4 * 1024 * 1024
    /// Open connections across all loops; beyond it new ones get 503 and are closed.
    public var maxConnections = 10_000
    /// From the first byte of a request to the end of its head: not extended by progress, so
    /// a client trickling header bytes cannot hold a connection.
    public var headerTimeout: Duration = .seconds(10)
    /// Longest pause while a body is arriving.
    public var bodyTimeout: Duration = .seconds(10)
    /// Longest pause while the client does not read our response.
    public var writeTimeout: Duration = .seconds(10)
    /// A keep-alive connection with no request in progress is closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// After answering and half-closing, how long unread client bytes are drained before close.
    public var lingerTimeout: Duration = .seconds(2)
    public var backlog: Int32 = 1024
    /// Wraps each accepted socket in the transport its connection reads and writes through
    /// (plain TCP by default; a TLS listener wraps it in TLS).
    public var makeTransport: @Sendable (_ socket: Int32) -> any StreamTransport = { SocketTransport(descriptor: $0) }
    /// How long a new connection has to make its first request (a TLS listener: to finish
    /// its handshake too, which no request byte shows); nil: `idleTimeout`.
    public var firstRequestTimeout: Duration?

    public init() {}
}

/// An HTTP/1.1 server: one listening socket per event loop (SO_REUSEPORT lets the kernel
/// spread connections), each connection served entirely on the loop that accepted it.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let router: Router
    let group: EventLoopGroup
    let loopStates: [ServerLoopState]
    let openConnections = Atomic<Int>(0)
    private let boundAddress = Locked<SocketAddress?>(nil)
    let logger = Logger(label: "sluice.http")

    /// Pre-serialised refusal for connections over the cap.
    static let overloaded = Array("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n".utf8)

    public init(configuration: HTTPServerConfiguration, router: Router, group: EventLoopGroup) {
        self.configuration = configuration
        self.router = router
        self.group = group
        self.loopStates = group.loops.map { ServerLoopState(loop: $0) }
    }

    /// The address the server listens on (with the real port when configured with port 0).
    public var localAddress: SocketAddress? { boundAddress.withLock { $0 } }

    /// Number of open client connections.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// Binds one listening socket per loop and starts accepting. Throws when the address
    /// cannot be bound (in use, no permission) before any connection is accepted.
    public func start() throws(IOError) {
        guard var address = SocketAddress(numericHost: configuration.host, port: configuration.port) else {
            throw IOError(errno: EINVAL, call: "listen address \(configuration.host):\(configuration.port)")
        }
        var listeners: [Int32] = []
        do {
            // SO_REUSEPORT would let a second process bind the same port and silently take
            // half the connections. A plain bind first proves the port is free.
            if address.port != 0 {
                Syscall.close(try Socket.listen(on: address, backlog: 1, reusePort: false))
            }
            for _ in loopStates {
                let fd = try Socket.listen(on: address, backlog: configuration.backlog, reusePort: true)
                listeners.append(fd)
                if address.port == 0 { address = try Socket.localAddress(of: fd) }
            }
        } catch {
            for fd in listeners { Syscall.close(fd) }
            throw error
        }
        boundAddress.withLock { $0 = address }
        let registered = DispatchGroup()
        for (state, fd) in zip(loopStates, listeners) {
            registered.enter()
            state.loop.execute {
                state.startListening(fd: fd, server: self)
                registered.leave()
            }
        }
        registered.wait()
    }

    /// Graceful stop: stop accepting, close idle connections, let in-flight requests finish
    /// (their responses carry `Connection: close`), and after `grace` close whatever is left.
    /// Blocks the calling thread, which must not be one of the server's loops.
    public func shutdown(grace: Duration = .seconds(10)) {
        for state in loopStates {
            state.loop.execute { state.beginDrain() }
        }
        let deadline = Monotonic.now() &+ grace.nanoseconds
        while openConnections.load(ordering: .acquiring) > 0 && Monotonic.now() < deadline {
            usleepMilliseconds(10)
        }
        let closed = DispatchGroup()
        for state in loopStates {
            closed.enter()
            state.loop.execute {
                state.closeAll()
                closed.leave()
            }
        }
        closed.wait()
    }
}

/// What the server keeps per loop, touched only on that loop's thread.
final class ServerLoopState: @unchecked Sendable {
    let loop: EventLoop
    let date = DateHeader()
    var listener: Listener?
    var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    var draining = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    func startListening(fd: Int32, server: HTTPServer) {
        let listener = Listener(fd: fd, server: server, state: self)
        do {
            try loop.register(listener, fd: fd, interest: .readable)
            self.listener = listener
        } catch {
            server.logger.error("cannot watch listening socket: \(error)")
            Syscall.close(fd)
        }
    }

    func beginDrain() {
        draining = true
        listener?.close()
        listener = nil
        for connection in Array(connections.values) { connection.beginDrain() }
    }

    func closeAll() {
        listener?.close()
        listener = nil
        for connection in Array(connections.values) { connection.close() }
    }
}

/// Accepts connections on one loop's listening socket.
final class Listener: EventHandler {
    let fd: Int32
    unowned let server: HTTPServer
    unowned let state: ServerLoopState
    private var closed = false

    init(fd: Int32, server: HTTPServer, state: ServerLoopState) {
        self.fd = fd
        self.server = server
        self.state = state
    }

    func handle(_ event: ReadyEvent) {
        // Accept everything queued (bounded per wake-up): accepting a few per tick leaves
        // connection bursts waiting for seconds.
        for _ in 0..<512 {
            let client: Int32
            do {
                guard case .done(let accepted) = try Syscall.accept(fd) else { return }
                client = accepted
            } catch {
                // EMFILE/ENFILE: out of descriptors. The listener stays readable while the
                // backlog is full, so stop watching it for a moment instead of spinning.
                server.logger.warning("accept failed: \(error); pausing accepts for 100 ms")
                pauseAccepting()
                return
            }
            admit(client)
        }
    }

    private func admit(_ client: Int32) {
        let open = server.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if open > server.configuration.maxConnections || state.draining {
            server.openConnections.wrappingSubtract(1, ordering: .relaxed)
            HTTPServer.overloaded.withUnsafeBytes { _ = try? Syscall.send(client, $0.baseAddress!, $0.count) }
            Syscall.close(client)
            return
        }
        Socket.setNoDelay(client)
        let connection = HTTPServerConnection(transport: server.configuration.makeTransport(client), server: server, state: state)
        do {
            try state.loop.register(connection, fd: client, interest: .readable)
            state.connections[ObjectIdentifier(connection)] = connection
            connection.start()
        } catch {
            server.openConnections.wrappingSubtract(1, ordering: .relaxed)
            Syscall.close(client)
        }
    }

    private func pauseAccepting() {
        try? state.loop.reregister(fd: fd, interest: [])
        state.loop.schedule(after: .milliseconds(100)) { [weak self] in
            guard let self, !self.closed else { return }
            try? self.state.loop.reregister(fd: self.fd, interest: .readable)
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        state.loop.deregister(fd: fd)
        Syscall.close(fd)
    }
}

func usleepMilliseconds(_ milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}
