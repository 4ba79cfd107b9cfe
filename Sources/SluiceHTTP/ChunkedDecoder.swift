import Glibc

/// Decodes a `Transfer-Encoding: chunked` body in place, incrementally.
///
/// The decoded bytes are moved down over the chunk framing inside the same buffer, so the body
/// ends up contiguous at `bodyStart..<bodyEnd` without a second buffer. Raw bytes up to
/// `rawEnd` are consumed; the next pipelined message starts there.
/// Offsets are relative to the start of the message, which must not move while decoding
/// (the connection only compacts its buffer between messages or by moving whole messages).
///
/// Raw size is bounded as well as decoded size: chunk framing (size lines, extensions, CRLFs)
/// may not exceed the body's own size plus 64 KiB, so a peer cannot make the buffer grow
/// without limit with endless leading zeros, extensions or one-byte chunks.
public struct ChunkedDecoder: Sendable {
    private enum State: Sendable {
        case size, sizeExtension, sizeLF, data, dataCR, dataLF, trailerLineStart, trailerLine, finalLF, done
    }

    private var state = State.size
    private var chunkSize = 0
    private var sizeDigits = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    private let maxBody: Int
    private let maxTrailerBytes: Int
    public let bodyStart: Int
    /// End of the decoded body so far.
    public private(set) var bodyEnd: Int
    /// End of the raw bytes consumed so far.
    public private(set) var rawEnd: Int

    public init(bodyStart: Int, maxBody: Int, maxTrailerBytes: Int = 16 * 1024) {
        self.bodyStart = bodyStart
        self.bodyEnd = bodyStart
        self.rawEnd = bodyStart
        self.maxBody = maxBody
        self.maxTrailerBytes = maxTrailerBytes
    }

    public var isComplete: Bool { state == .done }
    public var bodyCount: Int { bodyEnd - bodyStart }
    static let framingAllowance = 64 * 1024
    static let maxSizeDigits = 16

    /// Consumes what `message` holds past `rawEnd`. Returns true once the last chunk and the
    /// trailer section have been read.
    public mutating func decode(_ message: UnsafeMutableRawBufferPointer) throws(HTTPError) -> Bool {
        guard let base = message.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let end = message.count
        var index = rawEnd
        defer { rawEnd = index }
        while index < end {
            // Framing bytes consumed so far beyond the decoded body.
            if (index - bodyStart) - bodyCount > bodyCount + ChunkedDecoder.framingAllowance {
                throw .badChunk("chunk framing too large for the body it carries")
            }
            switch state {
            case .data:
                let available = min(end - index, chunkSize)
                if bodyEnd != index { memmove(base + bodyEnd, base + index, available) }
                bodyEnd += available
                index += available
                chunkSize -= available
                if chunkSize == 0 { state = .dataCR }
                continue
            case .done:
                return true
            default:
                break
            }
            let byte = base[index]
            index += 1
            switch state {
            case .size:
                if let digit = hexValue(byte) {
                    sizeDigits += 1
                    guard sizeDigits <= ChunkedDecoder.maxSizeDigits else { throw .badChunk("chunk size has too many digits") }
                    chunkSize = chunkSize << 4 | digit
                    if chunkSize > maxBody - bodyCount { throw .bodyTooLarge(limit: maxBody) }
                } else if sizeDigits > 0 && (byte == 0x3B || byte == 0x20 || byte == 0x09) {
                    state = .sizeExtension
                } else if sizeDigits > 0 && byte == 0x0D {
                    state = .sizeLF
                } else if sizeDigits > 0 && byte == 0x0A {
                    try endOfSizeLine()
                } else {
                    throw .badChunk("invalid chunk size")
                }
            case .sizeExtension:
                if byte == 0x0D { state = .sizeLF }
                else if byte == 0x0A { try endOfSizeLine() }
                else {
                    // Counted over the whole message, not per chunk.
                    extensionBytes += 1
                    guard extensionBytes <= 4096 else { throw .badChunk("chunk extensions too long") }
                    guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { throw .badChunk("control character in chunk extension") }
                }
            case .sizeLF:
                guard byte == 0x0A else { throw .badChunk("bare CR after chunk size") }
                try endOfSizeLine()
            case .dataCR:
                if byte == 0x0D { state = .dataLF }
                else if byte == 0x0A { state = .size }
                else { throw .badChunk("missing CRLF after chunk data") }
            case .dataLF:
                guard byte == 0x0A else { throw .badChunk("missing LF after chunk data") }
                state = .size
            case .trailerLineStart:
                if byte == 0x0D { state = .finalLF }
                else if byte == 0x0A { state = .done; return true }
                else { try countTrailer(); state = .trailerLine }
            case .trailerLine:
                try countTrailer()
                if byte == 0x0A { state = .trailerLineStart }
                else if byte != 0x0D && byte != 0x09 && (byte < 0x20 || byte == 0x7F) { throw .badChunk("control character in trailer") }
            case .finalLF:
                guard byte == 0x0A else { throw .badChunk("bare CR ending trailer section") }
                state = .done
                return true
            case .data, .done:
                break
            }
        }
        return state == .done
    }

    private mutating func endOfSizeLine() throws(HTTPError) {
        if chunkSize == 0 {
            state = .trailerLineStart
        } else {
            state = .data
        }
        sizeDigits = 0
    }

    private mutating func countTrailer() throws(HTTPError) {
        trailerBytes += 1
        guard trailerBytes <= maxTrailerBytes else { throw .badChunk("trailer section too large") }
    }
}

@inline(__always)
func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: return Int(byte - 0x30)
    case 0x41...0x46: return Int(byte - 0x41 + 10)
    case 0x61...0x66: return Int(byte - 0x61 + 10)
    default: return nil
    }
}
