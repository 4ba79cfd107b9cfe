/// A strict, validating JSON reader over bytes in place (RFC 8259), enough for the CloudEvents
/// JSON format: it decodes strings, hands out number lexemes untouched (so `10` and `10.0`
/// stay distinguishable), and skips nested values while checking them. Nesting is bounded so
/// hostile input cannot exhaust the stack.
struct JSONScanner {
    enum ValueKind {
        case string, number, object, array, `true`, `false`, null
    }

    let bytes: UnsafeRawBufferPointer
    var index = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index >= bytes.count }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The kind of the value starting at the next non-whitespace byte.
    mutating func peekKind() throws(CloudEventError) -> ValueKind {
        skipWhitespace()
        guard index < bytes.count else { throw .invalidJSON("unexpected end of input") }
        switch bytes[index] {
        case 0x22: return .string
        case 0x7B: return .object
        case 0x5B: return .array
        case 0x74: return .true
        case 0x66: return .false
        case 0x6E: return .null
        case 0x2D, 0x30...0x39: return .number
        default: throw .invalidJSON("unexpected character at byte \(index)")
        }
    }

    /// Consumes `byte` after optional whitespace, or returns false leaving the position.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(CloudEventError) {
        guard consume(byte) else { throw .invalidJSON("expected \(what) at byte \(index)") }
    }

    /// Reads a string value, appending its decoded UTF-8 to `output`.
    mutating func readString(into output: inout [UInt8]) throws(CloudEventError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == 0x22 else { throw .invalidJSON("expected a string at byte \(index)") }
        index += 1
        while true {
            guard index < bytes.count else { throw .invalidJSON("unterminated string") }
            let byte = bytes[index]
            switch byte {
            case 0x22:
                index += 1
                return
            case 0x5C:
                try readEscape(into: &output)
            case 0..<0x20:
                throw .invalidJSON("control character in string at byte \(index)")
            case 0x80...:
                guard let (_, length) = AttributeValidation.decodeUTF8(bytes, at: index) else {
                    throw .invalidJSON("invalid UTF-8 at byte \(index)")
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]))
                index += length
            default:
                output.append(byte)
                index += 1
            }
        }
    }

    private mutating func readEscape(into output: inout [UInt8]) throws(CloudEventError) {
        guard index + 1 < bytes.count else { throw .invalidJSON("unterminated escape") }
        let code = bytes[index + 1]
        index += 2
        switch code {
        case 0x22: output.append(0x22)
        case 0x5C: output.append(0x5C)
        case 0x2F: output.append(0x2F)
        case 0x62: output.append(0x08)
        case 0x66: output.append(0x0C)
        case 0x6E: output.append(0x0A)
        case 0x72: output.append(0x0D)
        case 0x74: output.append(0x09)
        case 0x75:
            var scalar = try readHex4()
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else {
                    throw .invalidJSON("unpaired surrogate escape")
                }
                index += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else { throw .invalidJSON("unpaired surrogate escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw .invalidJSON("unpaired surrogate escape")
            }
            appendUTF8(scalar, to: &output)
        default:
            throw .invalidJSON("invalid escape at byte \(index - 2)")
        }
    }

    private mutating func readHex4() throws(CloudEventError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .invalidJSON("truncated \\u escape") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = hexDigit(bytes[index + offset]) else { throw .invalidJSON("invalid \\u escape") }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// Reads a number and returns its lexeme's range, checking the JSON number grammar.
    mutating func readNumber() throws(CloudEventError) -> Range<Int> {
        skipWhitespace()
        let start = index
        if index < bytes.count && bytes[index] == 0x2D { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw .invalidJSON("invalid number at byte \(start)") }
        if bytes[index] == 0x30 {
            index += 1
        } else {
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && bytes[index] == 0x2E {
            index += 1
            let digits = index
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            guard index > digits else { throw .invalidJSON("invalid number at byte \(start)") }
        }
        if index < bytes.count && (bytes[index] == 0x65 || bytes[index] == 0x45) {
            index += 1
            if index < bytes.count && (bytes[index] == 0x2B || bytes[index] == 0x2D) { index += 1 }
            let digits = index
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            guard index > digits else { throw .invalidJSON("invalid number at byte \(start)") }
        }
        return start..<index
    }

    mutating func readLiteral(_ literal: StaticString) throws(CloudEventError) {
        skipWhitespace()
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count,
              bytesEqual(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]), literal)
        else { throw .invalidJSON("invalid literal at byte \(index)") }
        index += count
    }

    /// Skips one value of any kind, validating it; returns its byte range.
    mutating func skipValue(depth: Int = 0) throws(CloudEventError) -> Range<Int> {
        guard depth < JSONScanner.maxDepth else { throw .invalidJSON("nested deeper than \(JSONScanner.maxDepth) levels") }
        let kind = try peekKind()
        let start = index
        var discard: [UInt8] = []
        switch kind {
        case .string:
            try readString(into: &discard)
        case .number:
            _ = try readNumber()
        case .true:
            try readLiteral("true")
        case .false:
            try readLiteral("false")
        case .null:
            try readLiteral("null")
        case .object:
            index += 1
            if consume(0x7D) { return start..<index }
            repeat {
                discard.removeAll(keepingCapacity: true)
                try readString(into: &discard)
                try expect(0x3A, "':'")
                _ = try skipValue(depth: depth + 1)
            } while consume(0x2C)
            try expect(0x7D, "'}'")
        case .array:
            index += 1
            if consume(0x5D) { return start..<index }
            repeat {
                _ = try skipValue(depth: depth + 1)
            } while consume(0x2C)
            try expect(0x5D, "']'")
        }
        return start..<index
    }

    /// Checks nothing but whitespace follows.
    mutating func expectEnd() throws(CloudEventError) {
        skipWhitespace()
        guard index == bytes.count else { throw .invalidJSON("unexpected content after the value at byte \(index)") }
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
        output.append(UInt8(scalar))
    case 0x80..<0x800:
        output.append(UInt8(0xC0 | scalar >> 6))
        output.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
        output.append(UInt8(0xE0 | scalar >> 12))
        output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        output.append(UInt8(0x80 | scalar & 0x3F))
    default:
        output.append(UInt8(0xF0 | scalar >> 18))
        output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        output.append(UInt8(0x80 | scalar & 0x3F))
    }
}
