import Glibc
import SluiceIO

/// One client connection, served entirely on the loop that accepted it.
///
/// Requests are parsed in place in `input`; pipelined requests are answered strictly in order
/// because the next one is not looked at until the current one has its response. Responses of
/// one read are written together. A deadline field moves with every phase change and a single
/// timer per connection chases it, so timeouts cost no heap work per request.
final class HTTPServerConnection: EventHandler, @unchecked Sendable {
    enum Phase: Equatable {
        /// Reading requests; the framer knows whether one is in progress.
        case reading
        /// The handler has the request; waiting for its answer.
        case handling
        /// Answer queued with `Connection: close`; closing once it is written.
        case closing
        /// Half-closed after the last answer; draining what the client still sends.
        case lingering
        case closed
    }

    let transport: any StreamTransport
    /// The socket, for the loop's registrations.
    let fd: Int32
    let loop: EventLoop
    // Strong on purpose: `unowned` costs an atomic check on every access of the hot path. The
    // cycle through `state.connections` is broken when the connection closes.
    let server: HTTPServer
    let state: ServerLoopState
    private let configuration: HTTPServerConfiguration
    private let headerTimeout: UInt64
    private let bodyTimeout: UInt64
    private let writeTimeout: UInt64
    private let idleTimeout: UInt64
    private let lingerTimeout: UInt64

    private let input = ByteBuffer(capacity: 16 * 1024)
    private let output = OutboundQueue()
    private var framer: RequestFramer
    private(set) var phase = Phase.reading
    private var sequence: UInt64 = 0
    private var respondingToHEAD = false
    private var requestMinorVersion = 1
    private var sentContinue = false
    private var closeAfterResponse = false
    private var peerClosed = false
    private var processing = false

    private var interest: Interest = .readable
    private var deadline = Deadline()

    /// Pipelined bytes beyond this wait in the kernel until responses are written.
    private static let outputHighWater = 256 * 1024
    private static let retainedInputCapacity = 64 * 1024

    init(transport: any StreamTransport, server: HTTPServer, state: ServerLoopState) {
        self.transport = transport
        fd = transport.descriptor
        self.loop = state.loop
        self.server = server
        self.state = state
        self.configuration = server.configuration
        headerTimeout = configuration.headerTimeout.nanoseconds
        bodyTimeout = configuration.bodyTimeout.nanoseconds
        writeTimeout = configuration.writeTimeout.nanoseconds
        idleTimeout = configuration.idleTimeout.nanoseconds
        lingerTimeout = configuration.lingerTimeout.nanoseconds
        framer = RequestFramer(limits: configuration.head, maxBodyBytes: configuration.maxBodyBytes)
    }

    func start() {
        setDeadline(loop.now &+ (configuration.firstRequestTimeout?.nanoseconds ?? idleTimeout))
    }

    var isIdle: Bool { phase == .reading && framer.phase == .idle && input.isEmpty && output.isEmpty }

    // MARK: Events

    func handle(_ event: ReadyEvent) {
        if event.isHangup && !interest.contains(.readable) {
            // Reset or fully closed while we were not reading: nobody is left to answer.
            close()
            return
        }
        if event.isWritable && interest.contains(.writable) {
            flush()
            if phase == .closed { return }
        }
        if event.isReadable && interest.contains(.readable) {
            onReadable()
        }
    }

    private func onReadable() {
        if phase == .lingering {
            discardInput()
            return
        }
        if !reserveInputSpace() { return }
        let space = input.writableBytes
        let result: IOResult<Int>
        do {
            result = try transport.read(into: space)
        } catch {
            close()
            return
        }
        guard case .done(let count) = result else { return }
        if count == 0 {
            onPeerClosed()
            return
        }
        input.didWrite(count)
        if phase == .reading, framer.bytesNeeded > 0 || framer.phase == .chunked {
            setDeadline(loop.now &+ bodyTimeout)  // progress on a body
        }
        process()
        flush()
        if transport.hasBufferedInput && phase != .closed && interest.contains(.readable) {
            // TLS holds plaintext the socket will not announce: read it after other work.
            loop.execute { [self] in
                if phase != .closed && interest.contains(.readable) { onReadable() }
            }
        }
    }

    /// Makes room for the next read. While a handler holds the current request the buffer is
    /// not grown: further pipelined bytes wait in the kernel (backpressure).
    private func reserveInputSpace() -> Bool {
        switch phase {
        case .handling, .closing:
            if input.writableCount == 0 {
                setReadInterest(false)
                return false
            }
        default:
            input.reserveWritable(max(4096, framer.bytesNeeded - input.readableCount))
        }
        return true
    }

    private func onPeerClosed() {
        peerClosed = true
        setReadInterest(false)
        switch phase {
        case .handling, .closing:
            closeAfterResponse = true  // answer what was asked, then close
        case .reading where !output.isEmpty:
            // Answers to pipelined requests are still being written: finish them first.
            closeAfterResponse = true
            phase = .closing
        default:
            close()  // nothing in progress, or a request that will never be completed
        }
    }

    // MARK: Parsing and dispatch

    private func process() {
        if processing { return }
        processing = true
        defer { processing = false }
        while phase == .reading {
            if output.pendingCount > HTTPServerConnection.outputHighWater {
                setReadInterest(false)
                return
            }
            let wasIdle = framer.phase == .idle
            let step = framer.next(UnsafeMutableRawBufferPointer(mutating: input.readableBytes))
            if wasIdle && framer.phase != .idle {
                setDeadline(loop.now &+ headerTimeout)  // from the first byte, not extended
            }
            switch step {
            case .needMore:
                if framer.phase == .idle {
                    if input.capacity > HTTPServerConnection.retainedInputCapacity { input.shrink(to: 16 * 1024) }
                    setDeadline(loop.now &+ idleTimeout)
                }
                return
            case .awaitingBody:
                sentContinue = false
                sendContinueIfExpected()
                setDeadline(loop.now &+ bodyTimeout)
                return
            case .request(let bodyStart, let bodyEnd, let consumed):
                sentContinue = false
                dispatch(bodyStart: bodyStart, bodyEnd: bodyEnd, consumed: consumed)
            case .failed(let error):
                fail(error)
                return
            }
        }
    }

    private func sendContinueIfExpected() {
        guard framer.head.expectContinue, !sentContinue, framer.head.minorVersion >= 1 else { return }
        sentContinue = true
        output.appendable.append("HTTP/1.1 100 Continue\r\n\r\n")
    }

    private func dispatch(bodyStart: Int, bodyEnd: Int, consumed: Int) {
        let head = framer.head
        sequence &+= 1
        phase = .handling
        respondingToHEAD = head.method == .head
        requestMinorVersion = head.minorVersion
        if !head.keepAlive || state.draining { closeAfterResponse = true }
        setDeadline(.max)
        let message = input.readableBytes
        let base = message.baseAddress!
        let target = UnsafeRawBufferPointer(start: base + head.targetStart, count: head.targetEnd - head.targetStart)
        let path = target.firstIndex(of: 0x3F).map { UnsafeRawBufferPointer(rebasing: target[..<$0]) } ?? target
        var responder = HTTPResponder(connection: self, sequence: sequence)
        switch server.router.match(method: head.method, path: path, pathOffset: head.targetStart) {
        case .handler(let handler, let parameters):
            let request = HTTPRequest(base: base, head: head,
                                      body: UnsafeRawBufferPointer(start: base + bodyStart, count: bodyEnd - bodyStart),
                                      parameters: parameters)
            handler(request, &responder)
        case .methodNotAllowed(let allowed):
            let allow = allowed.map(\.description).joined(separator: ", ")
            responder.respond(status: .methodNotAllowed, headers: [("Allow", allow)], text: "method \(head.method) not allowed\n")
        case .notFound:
            responder.respond(status: .notFound, text: "no route for this path\n")
        }
        if responder.state == .open {
            server.logger.error("handler returned without answering \(head.method) request")
            responder.respond(status: .internalServerError, text: "handler did not answer\n")
        }
        input.consume(consumed)
    }

    // MARK: Responses

    /// Queues the answer to request `sequence`; stale or duplicate answers are ignored.
    func writeResponse(_ answer: Answer, sequence: UInt64) {
        guard phase == .handling, sequence == self.sequence else { return }
        let directive: ConnectionDirective
        if closeAfterResponse || state.draining {
            closeAfterResponse = true
            directive = .close
        } else {
            directive = requestMinorVersion == 0 ? .keepAlive : .none
        }
        let buffer = output.appendable
        switch answer {
        case .built(let response):
            ResponseWriter.writeHead(response, into: buffer, date: state.date, connection: directive)
            if !respondingToHEAD { output.appendBody(response.body) }
        case .prepared(let prepared):
            ResponseWriter.writeHead(prepared, into: buffer, date: state.date, connection: directive)
            if !respondingToHEAD { output.appendBody(prepared.body) }
        }
        phase = closeAfterResponse ? .closing : .reading
    }

    /// Completion of a deferred response, on this loop.
    func completeDeferred(_ answer: Answer, sequence: UInt64) {
        guard phase == .handling, sequence == self.sequence else { return }
        writeResponse(answer, sequence: sequence)
        if !processing {
            if !peerClosed && phase == .reading { setReadInterest(true) }
            process()
            flush()
        }
    }

    /// Answers a protocol error and closes: after a framing error the byte stream cannot be trusted.
    private func fail(_ error: HTTPError) {
        closeAfterResponse = true
        let response = HTTPResponse(status: error.status, text: "\(error)\n")
        ResponseWriter.writeHead(response, into: output.appendable, date: state.date, connection: .close)
        output.appendBody(response.body)
        phase = .closing
    }

    private func flush() {
        guard phase != .closed else { return }
        switch output.flush(to: transport) {
        case .done:
            if interest.contains(.writable) { setInterest(interest.subtracting(.writable)) }
            if output.buffer.capacity > HTTPServerConnection.retainedInputCapacity { output.buffer.shrink(to: 4096) }
            if phase == .closing || (closeAfterResponse && phase == .reading && framer.phase == .idle) {
                startLingering()
            } else if !peerClosed && !interest.contains(.readable) && phase != .handling {
                // Output drained below the high-water mark: resume reading and parsing.
                setReadInterest(true)
                process()
                if !output.isEmpty { flush() }
            }
        case .blocked:
            if !interest.contains(.writable) { setInterest(interest.union(.writable)) }
            setDeadline(loop.now &+ writeTimeout)
        case .failed:
            close()
        }
    }

    // MARK: Closing

    /// Half-closes after the last answer and reads what the client still sends, so unread
    /// request bytes do not make the kernel reset the connection before the answer is read.
    private func startLingering() {
        if peerClosed {
            close()
            return
        }
        phase = .lingering
        transport.shutdownWrite()
        setReadInterest(true)
        setDeadline(loop.now &+ lingerTimeout)
    }

    private func discardInput() {
        input.clear()
        let space = input.writableBytes
        switch try? transport.read(into: space) {
        case .done(let count)? where count > 0: return
        case .wouldBlock?: return
        default: close()
        }
    }

    /// Graceful shutdown: idle connections close now, busy ones after their current answer.
    func beginDrain() {
        if isIdle { close() } else { closeAfterResponse = true }
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        loop.deregister(fd: fd)
        transport.close()
        state.connections[ObjectIdentifier(self)] = nil
        server.openConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    // MARK: Interest and deadlines

    private func setReadInterest(_ on: Bool) {
        setInterest(on ? interest.union(.readable) : interest.subtracting(.readable))
    }

    private func setInterest(_ wanted: Interest) {
        guard wanted != interest, phase != .closed else { return }
        interest = wanted
        do {
            try loop.reregister(fd: fd, interest: wanted)
        } catch {
            close()
        }
    }

    private func setDeadline(_ at: UInt64) {
        if deadline.move(to: at) { arm(at) }
    }

    private func arm(_ at: UInt64) {
        loop.schedule(at: at) { [weak self] in self?.timerFired(armedFor: at) }
    }

    private func timerFired(armedFor at: UInt64) {
        guard phase != .closed else { return }
        switch deadline.fired(armedFor: at, now: Monotonic.now()) {
        case .stale: return
        case .rearm(let next): arm(next)
        case .expired: onTimeout()
        }
    }

    private func onTimeout() {
        switch phase {
        case .reading where framer.phase != .idle:
            fail(.timeout)
            flush()
        case .reading, .closing, .lingering:
            close()
        case .handling, .closed:
            break
        }
    }
}
