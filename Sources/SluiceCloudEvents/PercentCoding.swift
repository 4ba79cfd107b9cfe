/// Percent-encoding of binary-mode header values (HTTP binding §3.1.3.2).
public enum PercentCoding {
    /// Decodes one pass of `%XY` escapes into `output`. A `%` not followed by two hex digits
    /// stays literal: Go and Java senders do not encode, and their raw `%` must survive.
    /// The caller validates the result (UTF-8, the attribute's type).
    public static func decode(_ value: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte == 0x25, index + 2 < value.count, let high = hexDigit(value[index + 1]), let low = hexDigit(value[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
    }

    /// True when `value` needs no decoding (no `%`), the common case.
    @inline(__always)
    public static func isPlain(_ value: UnsafeRawBufferPointer) -> Bool {
        value.firstIndex(of: 0x25) == nil
    }

    /// Whether byte `byte` must be escaped on send: space, `"`, `%` and anything outside
    /// U+0021–U+007E (so every byte of a multi-byte UTF-8 sequence).
    @inline(__always)
    public static func needsEscape(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte >= 0x7F || byte == 0x22 || byte == 0x25
    }

    /// True when no byte of `value` needs escaping.
    @inline(__always)
    public static func isSafe(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value where needsEscape(byte) { return false }
        return true
    }

    /// Appends `value` percent-encoded with upper-case hex.
    @inline(__always)
    public static func encode(_ value: UnsafeRawBufferPointer, append: (UInt8) -> Void) {
        let hex: StaticString = "0123456789ABCDEF"
        for byte in value {
            if needsEscape(byte) {
                append(0x25)
                append(hex.utf8Start[Int(byte >> 4)])
                append(hex.utf8Start[Int(byte & 0x0F)])
            } else {
                append(byte)
            }
        }
    }
}
