import Glibc
import SluiceIO

/// One pooled connection to an origin, owned by one loop; one request at a time.
/// Sendable only so loop callbacks can name it: every use happens on its loop.
final class HTTPClientConnection: EventHandler, @unchecked Sendable {
    private enum Phase {
        case resolving, connecting, handshaking, idle, active, closed
    }

    /// How the body of the current response is framed.
    private enum Framing {
        case head
        case length(end: Int)
        case chunked
        case untilClose
    }

    // Strong: a busy connection may outlive its pool's place in the client (shutdown); the
    // cycle through the pool's idle list is broken when the connection closes.
    private let pool: ConnectionPool
    private let loop: EventLoop
    /// The connection's socket behind its transport (plain TCP, or TLS for https origins).
    private var transport: (any StreamTransport)?
    private var fd: Int32 { transport?.descriptor ?? -1 }
    private var phase = Phase.resolving
    private var addresses: [SocketAddress] = []
    private var task: ClientTask?
    /// Responses completed on this connection: a failure on a reused one may just be staleness.
    private var served = 0
    private var receivedAny = false
    /// Whether any byte of the current request reached the socket: a request none of which
    /// did can be sent again elsewhere whatever its method, since the peer cannot have seen it.
    private var requestReachedSocket = false

    private let input = ByteBuffer(capacity: 8 * 1024)
    private let output = OutboundQueue(capacity: 1024)
    private var head = HTTPHead()
    private var scanOffset = 0
    private var framing = Framing.head
    private var decoder = ChunkedDecoder(bodyStart: 0, maxBody: 0)
    private var interest: Interest = []
    private var deadline = Deadline()

    init(pool: ConnectionPool) {
        self.pool = pool
        self.loop = pool.loop
    }

    private var configuration: HTTPClientConfiguration { pool.client.configuration }

    // MARK: Opening

    func open(with task: ClientTask) {
        self.task = task
        setDeadline(min(task.deadline, loop.now &+ configuration.connectTimeout.nanoseconds))
        pool.client.resolver.resolve(pool.origin, on: loop) { [self] result in
            guard phase == .resolving else { return }
            switch result {
            case .success(let found):
                addresses = found
                connectNext()
            case .failure(let error):
                close(failing: error)
            }
        }
    }

    /// Tries the next resolved address; the last failure is the one reported.
    private func connectNext(after failure: HTTPError = .connectionRefused) {
        guard !addresses.isEmpty else {
            close(failing: failure)
            return
        }
        let address = addresses.removeFirst()
        do {
            let (socket, connected) = try Socket.connect(to: address)
            transport = configuration.makeTransport(socket, pool.origin)
            phase = .connecting
            interest = connected ? .readable : .writable
            try loop.register(self, fd: fd, interest: interest)
            if connected { didConnect() }
        } catch {
            transport?.close()
            transport = nil
            connectNext(after: .transport(error))
        }
    }

    /// TCP is up: the transport's handshake (TLS) comes next, waiting for whichever readiness
    /// it asks for.
    private func didConnect() {
        phase = .handshaking
        continueHandshake()
    }

    private func continueHandshake() {
        guard let transport else { return close(failing: .connectionClosed) }
        let status: HandshakeStatus
        do {
            status = try transport.handshake()
        } catch {
            return close(failing: .transport(error))
        }
        switch status {
        case .wantsReadable: setInterest(.readable)
        case .wantsWritable: setInterest(.writable)
        case .done: didHandshake()
        }
    }

    private func didHandshake() {
        phase = .active
        setInterest(.readable)
        guard phase == .active else { return }  // failed while changing interest
        guard let task else {
            becomeIdle()
            return
        }
        setDeadline(task.deadline)
        write(task)
    }

    // MARK: Requests

    /// Sends `task` on this idle connection.
    func send(_ task: ClientTask) {
        self.task = task
        phase = .active
        setDeadline(task.deadline)
        write(task)
    }

    private func write(_ task: ClientTask) {
        if let problem = task.request.headerProblem {
            self.task = nil
            becomeIdle()
            task.finish(.failure(.invalidRequestHeader(problem)))
            return
        }
        receivedAny = false
        requestReachedSocket = false
        head = HTTPHead()
        framing = .head
        scanOffset = 0
        let request = task.request
        let buffer = output.appendable
        request.method.write(into: buffer)
        buffer.append(byte: 0x20)
        buffer.append(string: request.url.target)
        buffer.append(" HTTP/1.1\r\nHost: ")
        buffer.append(string: request.url.hostHeader)
        buffer.append("\r\n")
        for (name, value) in request.headers {
            buffer.append(string: name)
            buffer.append(": ")
            buffer.append(string: value)
            buffer.append("\r\n")
        }
        request.headerWriter?.writeHeaders(into: buffer)
        if !request.body.isEmpty || request.method == .post || request.method == .put || request.method == .patch {
            buffer.append("Content-Length: ")
            buffer.appendDecimal(request.body.count)
            buffer.append("\r\n")
        }
        buffer.append("\r\n")
        output.appendBody(request.body)
        flush()
    }

    private func flush() {
        guard let transport else { return fail(.connectionClosed) }
        let pendingBefore = output.pendingCount
        let result = output.flush(to: transport)
        if output.pendingCount < pendingBefore { requestReachedSocket = true }
        switch result {
        case .done:
            if interest.contains(.writable) { setInterest(.readable) }
        case .blocked:
            if !interest.contains(.writable) { setInterest([.readable, .writable]) }
        case .failed(let error):
            fail(.transport(error))
        }
    }

    // MARK: Events

    func handle(_ event: ReadyEvent) {
        switch phase {
        case .connecting:
            guard event.isWritable || event.isHangup else { return }
            if let error = Socket.pendingError(of: fd) {
                loop.deregister(fd: fd)
                transport?.close()
                transport = nil
                phase = .resolving
                connectNext(after: .transport(error))
                return
            }
            didConnect()
        case .handshaking:
            continueHandshake()
        case .active:
            if event.isWritable && interest.contains(.writable) { flush() }
            if phase == .active && event.isReadable { onReadable() }
        case .idle:
            // A pooled connection should hear nothing; EOF or stray bytes mean it is done for.
            close(failing: .connectionClosed)
        case .resolving, .closed:
            break
        }
    }

    private func onReadable() {
        if case .length(let end) = framing {
            input.reserveWritable(max(4096, min(end - input.readableCount, 1 << 20)))
        } else {
            input.reserveWritable(4096)
        }
        guard let transport else { return fail(.connectionClosed) }
        let space = input.writableBytes
        let result: IOResult<Int>
        do {
            result = try transport.read(into: space)
        } catch {
            fail(.transport(error))
            return
        }
        guard case .done(let count) = result else { return }
        if count == 0 {
            if case .untilClose = framing {
                complete(bodyStart: head.length, bodyEnd: input.readableCount, reusable: false)
            } else {
                fail(.connectionClosed)
            }
            return
        }
        receivedAny = true
        input.didWrite(count)
        parse()
    }

    private func parse() {
        while phase == .active {
            switch framing {
            case .head:
                let bytes = input.readableBytes
                guard let end = HTTPHeadParser.findHeadEnd(bytes, from: scanOffset) else {
                    if bytes.count > configuration.head.maxHeadBytes { fail(.headersTooLarge(limit: configuration.head.maxHeadBytes)) }
                    scanOffset = HTTPHeadParser.resumeOffset(afterScanning: bytes.count)
                    return
                }
                do {
                    try HTTPHeadParser.parseResponse(bytes, headEnd: end, limits: configuration.head, into: &head)
                } catch {
                    fail(error)
                    return
                }
                if head.statusCode >= 100 && head.statusCode < 200 {
                    // Interim response (100 Continue): skip it, the real one follows.
                    input.consume(end)
                    scanOffset = 0
                    continue
                }
                let limit = configuration.maxResponseBodyBytes
                if task?.request.method == .head || head.statusCode == 204 || head.statusCode == 304 {
                    framing = .length(end: end)
                } else if head.chunked {
                    decoder = ChunkedDecoder(bodyStart: end, maxBody: limit)
                    framing = .chunked
                } else if head.contentLength >= 0 {
                    guard head.contentLength <= limit else {
                        fail(.responseTooLarge(limit: limit))
                        return
                    }
                    framing = .length(end: end + head.contentLength)
                } else {
                    framing = .untilClose
                }
            case .length(let end):
                guard input.readableCount >= end else { return }
                complete(bodyStart: head.length, bodyEnd: end, reusable: head.keepAlive)
                return
            case .chunked:
                do {
                    guard try decoder.decode(UnsafeMutableRawBufferPointer(mutating: input.readableBytes)) else { return }
                } catch {
                    fail(error == .bodyTooLarge(limit: configuration.maxResponseBodyBytes)
                         ? .responseTooLarge(limit: configuration.maxResponseBodyBytes) : error)
                    return
                }
                complete(bodyStart: decoder.bodyStart, bodyEnd: decoder.bodyEnd, reusable: head.keepAlive)
                return
            case .untilClose:
                if input.readableCount - head.length > configuration.maxResponseBodyBytes {
                    fail(.responseTooLarge(limit: configuration.maxResponseBodyBytes))
                }
                return
            }
        }
    }

    private func complete(bodyStart: Int, bodyEnd: Int, reusable: Bool) {
        let bytes = input.readableBytes
        let response = HTTPClientResponse(status: head.statusCode, head: Array(UnsafeRawBufferPointer(rebasing: bytes[0..<head.length])),
                                          fields: Array(head.fields),
                                          body: bodyEnd > bodyStart ? Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<bodyEnd])) : [])
        let consumed: Int
        if case .chunked = framing { consumed = decoder.rawEnd } else { consumed = bodyEnd }
        let finished = task
        task = nil
        served += 1
        if reusable && consumed == input.readableCount {
            input.clear()
            if input.capacity > 64 * 1024 { input.shrink(to: 8 * 1024) }
            becomeIdle()
        } else {
            // Not keep-alive, or the server sent bytes we did not ask for.
            close(failing: nil)
        }
        finished?.finish(.success(response))
    }

    private func becomeIdle() {
        phase = .idle
        setDeadline(loop.now &+ configuration.idleTimeout.nanoseconds)
        pool.connectionIsFree(self)
    }

    // MARK: Failure and closing

    /// Fails the current request, or sends it again once on another connection when this one
    /// was a reused one and either none of the request reached it, or the server had already
    /// closed it (nothing of a response arrived) and the request may be repeated
    /// (`resendOnStaleConnection`: idempotent methods). A POST that reached the socket is
    /// never re-sent here: the peer may have acted on it, so its failure is the caller's
    /// attempt, with the caller's backoff.
    private func fail(_ error: HTTPError) {
        let pending = task
        task = nil
        close(failing: nil)
        guard let pending else { return }
        let stale = !receivedAny && (error == .connectionClosed || error == .connectionReset)
        let repeatable = !requestReachedSocket || (stale && pending.request.resendOnStaleConnection)
        if served > 0 && repeatable && pending.resends == 0 && !pending.finished {
            pool.resend(pending)
        } else {
            pending.finish(.failure(error))
        }
    }

    /// Closes the socket, leaves the pool, and fails the current request with `error` if given.
    func close(failing error: HTTPError?) {
        guard phase != .closed else { return }
        phase = .closed
        if let transport {
            loop.deregister(fd: transport.descriptor)
            transport.close()
            self.transport = nil
        }
        pool.connectionClosed(self)
        if let error, let pending = task {
            task = nil
            pending.finish(.failure(error))
        }
    }

    private func setInterest(_ wanted: Interest) {
        guard wanted != interest, fd >= 0 else { return }
        interest = wanted
        do {
            try loop.reregister(fd: fd, interest: wanted)
        } catch {
            fail(.transport(error))
        }
    }

    // MARK: Deadlines

    private func setDeadline(_ at: UInt64) {
        if deadline.move(to: at) { arm(at) }
    }

    private func arm(_ at: UInt64) {
        loop.schedule(at: at) { [weak self] in self?.timerFired(armedFor: at) }
    }

    private func timerFired(armedFor at: UInt64) {
        guard phase != .closed else { return }
        switch deadline.fired(armedFor: at, now: Monotonic.now()) {
        case .stale:
            return
        case .rearm(let next):
            arm(next)
        case .expired:
            switch phase {
            case .resolving, .connecting, .handshaking:
                let timedOutRequest = task.map { $0.deadline <= Monotonic.now() } ?? false
                close(failing: timedOutRequest ? .responseTimeout : .connectTimeout)
            case .active:
                close(failing: .responseTimeout)
            case .idle, .closed:
                close(failing: nil)
            }
        }
    }
}
