/// Finds request boundaries in a connection's input: the head, then a Content-Length or chunked
/// body, message after message. Pure bytes-in, steps-out (no sockets), so the server
/// connection and the fuzzer run exactly the same code.
public struct RequestFramer: Sendable {
    public enum Phase: Equatable, Sendable {
        /// No byte of the next request yet.
        case idle
        /// Collecting the head.
        case head
        /// Collecting a Content-Length body that ends at this offset of the message.
        case body(end: Int)
        /// Decoding a chunked body.
        case chunked
    }

    public enum Step: Sendable {
        /// More bytes are needed.
        case needMore
        /// The head is complete and a body is still to come (the moment to send 100 Continue).
        case awaitingBody
        /// A whole request: body at `bodyStart..<bodyEnd`, `consumed` bytes long in the input.
        case request(bodyStart: Int, bodyEnd: Int, consumed: Int)
        case failed(HTTPError)
    }

    public private(set) var phase = Phase.idle
    public private(set) var head = HTTPHead()
    private var scanOffset = 0
    private var decoder = ChunkedDecoder(bodyStart: 0, maxBody: 0)
    public let limits: HeadLimits
    public let maxBodyBytes: Int

    public init(limits: HeadLimits, maxBodyBytes: Int) {
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
    }

    /// Bytes the input should be able to hold for the current message to complete (0: unknown).
    public var bytesNeeded: Int {
        if case .body(let end) = phase { return end }
        return 0
    }

    /// Advances over `message` (the unread input, starting at the current request). Chunked
    /// bodies are decoded in place, so the bytes are mutable.
    public mutating func next(_ message: UnsafeMutableRawBufferPointer) -> Step {
        while true {
            switch phase {
            case .idle:
                if message.isEmpty { return .needMore }
                phase = .head
                scanOffset = 0
            case .head:
                if let failure = parseHead(UnsafeRawBufferPointer(message)) { return .failed(failure) }
                switch phase {
                case .head:
                    return .needMore
                case .body(let end) where end <= message.count:
                    continue
                case .chunked:
                    let step = decodeChunked(message)
                    if case .needMore = step { return .awaitingBody }
                    return step
                default:
                    return .awaitingBody
                }
            case .body(let end):
                guard message.count >= end else { return .needMore }
                phase = .idle
                return .request(bodyStart: head.length, bodyEnd: end, consumed: end)
            case .chunked:
                return decodeChunked(message)
            }
        }
    }

    private mutating func decodeChunked(_ message: UnsafeMutableRawBufferPointer) -> Step {
        do {
            guard try decoder.decode(message) else { return .needMore }
        } catch {
            return .failed(error)
        }
        phase = .idle
        return .request(bodyStart: decoder.bodyStart, bodyEnd: decoder.bodyEnd, consumed: decoder.rawEnd)
    }

    /// Parses the head once it is complete and decides the body framing. Returns an error,
    /// or nil with `phase` either still `.head` (more bytes needed) or moved on.
    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer) -> HTTPError? {
        guard let end = HTTPHeadParser.findHeadEnd(bytes, from: scanOffset) else {
            if bytes.count > limits.maxHeadBytes {
                let lineEnded = bytes.prefix(limits.maxRequestLineBytes + 2).contains(0x0A)
                return lineEnded ? .headersTooLarge(limit: limits.maxHeadBytes) : .uriTooLong(limit: limits.maxRequestLineBytes)
            }
            scanOffset = HTTPHeadParser.resumeOffset(afterScanning: bytes.count)
            return nil
        }
        guard end <= limits.maxHeadBytes else { return .headersTooLarge(limit: limits.maxHeadBytes) }
        do {
            try HTTPHeadParser.parseRequest(bytes, headEnd: end, limits: limits, into: &head)
        } catch {
            return error
        }
        if head.chunked {
            decoder = ChunkedDecoder(bodyStart: end, maxBody: maxBodyBytes, maxTrailerBytes: limits.maxHeadBytes)
            phase = .chunked
        } else {
            let length = max(0, head.contentLength)
            guard length <= maxBodyBytes else { return .bodyTooLarge(limit: maxBodyBytes) }
            phase = .body(end: end + length)
        }
        return nil
    }
}
