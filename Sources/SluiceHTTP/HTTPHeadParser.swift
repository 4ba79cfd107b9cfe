import Glibc

/// Where one header field sits in the buffer, as offsets from the start of the message.
public struct HeaderField: Sendable {
    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32
}

/// Limits applied while parsing a message head.
public struct HeadLimits: Sendable {
    public var maxHeadBytes: Int
    public var maxRequestLineBytes: Int
    public var maxHeaderCount: Int

    public init(maxHeadBytes: Int = 16 * 1024, maxRequestLineBytes: Int = 8 * 1024, maxHeaderCount: Int = 100) {
        self.maxHeadBytes = maxHeadBytes
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// A parsed request or response head: offsets into the bytes it was parsed from, plus the
/// framing facts the connection needs. Reused message after message (no allocation once the
/// field array has grown to the usual header count).
public struct HTTPHead: Sendable {
    /// Bytes from the start of the message through the blank line.
    public var length = 0
    public var method: HTTPMethod = .get
    public var targetStart = 0
    public var targetEnd = 0
    public var minorVersion = 1
    public var statusCode = 0
    public var fields = ContiguousArray<HeaderField>()
    /// -1 when absent.
    public var contentLength = -1
    public var chunked = false
    public var connectionClose = false
    public var connectionKeepAlive = false
    public var expectContinue = false

    public init() {
        fields.reserveCapacity(16)
    }

    mutating func reset() {
        length = 0
        fields.removeAll(keepingCapacity: true)
        contentLength = -1
        chunked = false
        connectionClose = false
        connectionKeepAlive = false
        expectContinue = false
        statusCode = 0
    }

    /// Whether the connection stays open after this message, by version and Connection header.
    public var keepAlive: Bool {
        if connectionClose { return false }
        return minorVersion >= 1 || connectionKeepAlive
    }
}

/// Parses HTTP/1.x message heads in place. Lines may end in CRLF or a bare LF (RFC 9112 §2.2
/// lets a recipient accept both); everything else the grammar forbids is rejected.
public enum HTTPHeadParser {
    /// Looks for the blank line ending a head, starting at `from` (where the previous search
    /// stopped, so bytes are scanned once). Returns the offset just past it, or nil.
    public static func findHeadEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let count = bytes.count
        // Empty lines before a request line are ignored (RFC 9112 §2.2), so they cannot end it.
        var leading = 0
        while leading < count && (base[leading] == 0x0D || base[leading] == 0x0A) { leading += 1 }
        var index = max(leading, from)
        while index < count {
            guard let found = memchrLF(base + index, count - index) else { return nil }
            let lf = found - base
            // A blank line is LF LF, or LF CR LF.
            if lf + 1 < count && base[lf + 1] == 0x0A { return lf + 2 }
            if lf + 2 < count && base[lf + 1] == 0x0D && base[lf + 2] == 0x0A { return lf + 3 }
            if lf + 2 >= count && lf + 1 < count && base[lf + 1] == 0x0D { return nil }
            index = lf + 1
        }
        return nil
    }

    /// Where the next `findHeadEnd` should resume so that a blank line split across reads is found.
    public static func resumeOffset(afterScanning count: Int) -> Int { max(0, count - 3) }

    /// Parses a complete request head `bytes[0..<headEnd]` into `head`.
    public static func parseRequest(_ bytes: UnsafeRawBufferPointer, headEnd: Int, limits: HeadLimits, into head: inout HTTPHead) throws(HTTPError) {
        head.reset()
        head.length = headEnd
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .badRequestLine }
        var index = 0
        // RFC 9112 §2.2: ignore empty lines before the request line.
        while index < headEnd && (base[index] == 0x0D || base[index] == 0x0A) { index += 1 }
        let methodStart = index
        while index < headEnd && isTokenChar(base[index]) { index += 1 }
        guard index > methodStart, index < headEnd, base[index] == 0x20 else { throw .badRequestLine }
        head.method = HTTPMethod(token: UnsafeRawBufferPointer(start: base + methodStart, count: index - methodStart))
        index += 1
        head.targetStart = index
        while index < headEnd && base[index] > 0x20 && base[index] < 0x7F { index += 1 }
        head.targetEnd = index
        guard head.targetEnd > head.targetStart, index < headEnd, base[index] == 0x20 else {
            throw index - methodStart > limits.maxRequestLineBytes ? .uriTooLong(limit: limits.maxRequestLineBytes) : .badRequestLine
        }
        index += 1
        head.minorVersion = try parseVersion(base, &index, headEnd, error: .badRequestLine)
        try expectLineEnd(base, &index, headEnd, error: .badRequestLine)
        if index - methodStart > limits.maxRequestLineBytes { throw .uriTooLong(limit: limits.maxRequestLineBytes) }
        try parseFields(base, from: index, headEnd: headEnd, limits: limits, into: &head)
        if head.chunked && head.contentLength >= 0 { throw .contentLengthWithTransferEncoding }
    }

    /// Parses a complete response head `bytes[0..<headEnd]` into `head`.
    public static func parseResponse(_ bytes: UnsafeRawBufferPointer, headEnd: Int, limits: HeadLimits, into head: inout HTTPHead) throws(HTTPError) {
        head.reset()
        head.length = headEnd
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .badStatusLine }
        var index = 0
        head.minorVersion = try parseVersion(base, &index, headEnd, error: .badStatusLine)
        guard index + 4 <= headEnd, base[index] == 0x20 else { throw .badStatusLine }
        index += 1
        var code = 0
        for _ in 0..<3 {
            let digit = base[index] &- 0x30
            guard digit < 10 else { throw .badStatusLine }
            code = code * 10 + Int(digit)
            index += 1
        }
        head.statusCode = code
        // Reason phrase: anything printable up to the line end.
        while index < headEnd && base[index] != 0x0D && base[index] != 0x0A {
            guard base[index] == 0x09 || base[index] >= 0x20, base[index] != 0x7F else { throw .badStatusLine }
            index += 1
        }
        try expectLineEnd(base, &index, headEnd, error: .badStatusLine)
        try parseFields(base, from: index, headEnd: headEnd, limits: limits, into: &head)
        // A sender must not send both; as a client we follow RFC 9112 §6.3 and let chunked win.
        if head.chunked { head.contentLength = -1 }
    }

    // MARK: Pieces

    @inline(__always)
    private static func parseVersion(_ base: UnsafePointer<UInt8>, _ index: inout Int, _ end: Int, error: HTTPError) throws(HTTPError) -> Int {
        guard index + 8 <= end,
              base[index] == 0x48, base[index + 1] == 0x54, base[index + 2] == 0x54, base[index + 3] == 0x50,
              base[index + 4] == 0x2F, base[index + 6] == 0x2E
        else { throw error }
        let major = base[index + 5] &- 0x30
        let minor = base[index + 7] &- 0x30
        guard major < 10, minor < 10 else { throw error }
        guard major == 1 else { throw .unsupportedVersion }
        index += 8
        return Int(minor)
    }

    @inline(__always)
    private static func expectLineEnd(_ base: UnsafePointer<UInt8>, _ index: inout Int, _ end: Int, error: HTTPError) throws(HTTPError) {
        if index < end && base[index] == 0x0D { index += 1 }
        guard index < end, base[index] == 0x0A else { throw error }
        index += 1
    }

    private static func parseFields(_ base: UnsafePointer<UInt8>, from start: Int, headEnd: Int, limits: HeadLimits, into head: inout HTTPHead) throws(HTTPError) {
        var index = start
        while true {
            guard index < headEnd else { throw .badHeader("missing blank line") }
            if base[index] == 0x0A { return }
            if base[index] == 0x0D {
                guard index + 1 < headEnd, base[index + 1] == 0x0A else { throw .badHeader("bare CR") }
                return
            }
            if base[index] == 0x20 || base[index] == 0x09 { throw .badHeader("obsolete line folding") }
            let nameStart = index
            while index < headEnd && isTokenChar(base[index]) { index += 1 }
            guard index < headEnd, base[index] == 0x3A else {
                let whitespace = index > nameStart && index < headEnd && (base[index] == 0x20 || base[index] == 0x09)
                throw .badHeader(whitespace ? "whitespace before colon" : "invalid character in field name")
            }
            guard index > nameStart else { throw .badHeader("empty field name") }
            let nameEnd = index
            index += 1
            while index < headEnd && (base[index] == 0x20 || base[index] == 0x09) { index += 1 }
            let valueStart = index
            let valueEnd = try scanValue(base, &index, headEnd)
            guard head.fields.count < limits.maxHeaderCount else { throw .tooManyHeaders(limit: limits.maxHeaderCount) }
            head.fields.append(HeaderField(nameStart: Int32(nameStart), nameEnd: Int32(nameEnd),
                                           valueStart: Int32(valueStart), valueEnd: Int32(valueEnd)))
            try noteFramingField(base, nameStart, nameEnd, valueStart, valueEnd, into: &head)
        }
    }

    /// Scans a field value up to its line end, leaving `index` after the LF, and returns where
    /// the value ends without trailing whitespace. The line end is found with memchr and the
    /// value checked eight bytes at a time; only lines with a tab or a control byte take the
    /// byte-by-byte path that says which.
    @inline(__always)
    private static func scanValue(_ base: UnsafePointer<UInt8>, _ index: inout Int, _ headEnd: Int) throws(HTTPError) -> Int {
        let start = index
        guard let found = memchrLF(base + start, headEnd - start) else { throw .badHeader("missing line end") }
        let lf = found - base
        var end = lf
        if end > start && base[end - 1] == 0x0D { end -= 1 }
        if !allVisibleOrSpace(base + start, end - start) {
            for position in start..<end {
                let byte = base[position]
                if byte == 0x0D { throw .badHeader("bare CR") }
                guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { throw .badHeader("control character in field value") }
            }
        }
        index = lf + 1
        while end > start && (base[end - 1] == 0x20 || base[end - 1] == 0x09) { end -= 1 }
        return end
    }

    /// True when no byte is below 0x20 (controls, tab included) or 0x7F: bytes 0x80 and up
    /// (obs-text) are fine. SWAR over 8-byte words, the tail byte by byte.
    @inline(__always)
    static func allVisibleOrSpace(_ start: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        let low: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        var offset = 0
        while offset + 8 <= count {
            let word = UnsafeRawPointer(start + offset).loadUnaligned(as: UInt64.self)
            // Some byte < 0x20: (w - 0x20..) & ~w & 0x80.. is non-zero (exact for presence).
            let below = (word &- low &* 0x20) & ~word & high
            // Some byte == 0x7F: a zero byte in w ^ 0x7F..
            let deleted = word ^ (low &* 0x7F)
            let isDelete = (deleted &- low) & ~deleted & high
            if below | isDelete != 0 { return false }
            offset += 8
        }
        while offset < count {
            let byte = start[offset]
            if byte < 0x20 || byte == 0x7F { return false }
            offset += 1
        }
        return true
    }

    /// Records the fields that decide framing and connection handling.
    @inline(__always)
    private static func noteFramingField(_ base: UnsafePointer<UInt8>, _ nameStart: Int, _ nameEnd: Int,
                                         _ valueStart: Int, _ valueEnd: Int, into head: inout HTTPHead) throws(HTTPError) {
        // Every name of interest starts with c, t or e: most fields are dismissed on one byte.
        switch base[nameStart] | 0x20 {
        case 0x63, 0x74, 0x65: break
        default: return
        }
        let name = UnsafeRawBufferPointer(start: base + nameStart, count: nameEnd - nameStart)
        let value = UnsafeRawBufferPointer(start: base + valueStart, count: valueEnd - valueStart)
        switch name.count {
        case 14 where equalsASCIICaseInsensitive(name, "content-length"):
            guard head.contentLength < 0 else { throw .duplicateContentLength }
            head.contentLength = try parseContentLength(value)
        case 17 where equalsASCIICaseInsensitive(name, "transfer-encoding"):
            // Only "chunked" alone is supported: a chain like "gzip, chunked" would need decoding.
            guard !head.chunked, equalsASCIICaseInsensitive(value, "chunked") else { throw .unsupportedTransferEncoding }
            head.chunked = true
        case 10 where equalsASCIICaseInsensitive(name, "connection"):
            forEachToken(value) { token in
                if equalsASCIICaseInsensitive(token, "close") { head.connectionClose = true }
                else if equalsASCIICaseInsensitive(token, "keep-alive") { head.connectionKeepAlive = true }
            }
        case 6 where equalsASCIICaseInsensitive(name, "expect"):
            guard equalsASCIICaseInsensitive(value, "100-continue") else { throw .unsupportedExpectation }
            head.expectContinue = true
        default:
            break
        }
    }

    private static func parseContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        guard !value.isEmpty, value.count <= 18 else { throw .badContentLength }
        var result = 0
        for byte in value {
            let digit = byte &- 0x30
            guard digit < 10 else { throw .badContentLength }
            result = result * 10 + Int(digit)
        }
        return result
    }

    /// Calls `body` with each comma-separated token of a list value, trimmed of whitespace.
    @inline(__always)
    static func forEachToken(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        let count = value.count
        while start < count {
            var end = start
            while end < count && value[end] != 0x2C { end += 1 }
            var lo = start
            var hi = end
            while lo < hi && (value[lo] == 0x20 || value[lo] == 0x09) { lo += 1 }
            while hi > lo && (value[hi - 1] == 0x20 || value[hi - 1] == 0x09) { hi -= 1 }
            if hi > lo { body(UnsafeRawBufferPointer(rebasing: value[lo..<hi])) }
            start = end + 1
        }
    }
}

/// RFC 9110 tchar, as a 128-bit map: bit b of the map is set when byte b is a token character.
/// ALPHA, DIGIT and !#$%&'*+-.^_`|~ ; nothing at or above 0x80.
@inline(__always)
func isTokenChar(_ byte: UInt8) -> Bool {
    let lowMap: UInt64 = 0x03FF_6CFA_0000_0000  // 0x00-0x3F: ! # $ % & ' * + - . 0-9
    let highMap: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // 0x40-0x7F: A-Z ^ _ ` a-z | ~
    if byte < 64 { return lowMap >> UInt64(byte) & 1 == 1 }
    if byte < 128 { return highMap >> UInt64(byte - 64) & 1 == 1 }
    return false
}

@inline(__always)
func memchrLF(_ start: UnsafePointer<UInt8>, _ count: Int) -> UnsafePointer<UInt8>? {
    guard let found = memchr(start, 0x0A, count) else { return nil }
    return UnsafePointer(found.assumingMemoryBound(to: UInt8.self))
}
