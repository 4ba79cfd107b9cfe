/// Checks of attribute names and values against the CloudEvents type system (spec "Type
/// System", "Naming Conventions"). All work on raw bytes; none allocates.
public enum AttributeValidation {
    /// `[a-z0-9]`, 1 to 255 bytes (the spec's 20 is a SHOULD; Knative's own names are longer).
    public static func isValidName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty, name.count <= 255 else { return false }
        for byte in name where !((byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)) { return false }
        return true
    }

    /// Checks `value` as `kind`; returns the reason it is invalid, or nil.
    public static func problem(with value: UnsafeRawBufferPointer, as kind: AttributeKind) -> String? {
        switch kind {
        case .string: return isValidString(value) ? nil : "not a valid string (control characters or invalid UTF-8)"
        case .integer: return isCanonicalInt32(value) ? nil : "not a 32-bit integer"
        case .boolean: return bytesEqual(value, "true") || bytesEqual(value, "false") ? nil : "not true or false"
        case .uri: return isAbsoluteURI(value) ? nil : "not an absolute URI"
        case .uriReference: return isURIReference(value) ? nil : "not a URI reference"
        case .timestamp: return isRFC3339(value) ? nil : "not an RFC 3339 timestamp"
        case .binary: return Base64.isValid(value) ? nil : "not base64"
        }
    }

    /// Valid UTF-8 without C0/C1 controls, DEL, noncharacters (surrogates cannot occur in
    /// valid UTF-8). ASCII-only values take a fast path.
    public static func isValidString(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = value.count
        while index < count {
            let byte = value[index]
            if byte < 0x80 {
                if byte < 0x20 || byte == 0x7F { return false }
                index += 1
                continue
            }
            guard let (scalar, length) = decodeUTF8(value, at: index) else { return false }
            if scalar >= 0x80 && scalar <= 0x9F { return false }
            if (scalar >= 0xFDD0 && scalar <= 0xFDEF) || scalar & 0xFFFE == 0xFFFE { return false }
            index += length
        }
        return true
    }

    /// Decodes one UTF-8 scalar strictly (no overlongs, no surrogates, at most U+10FFFF).
    static func decodeUTF8(_ bytes: UnsafeRawBufferPointer, at index: Int) -> (UInt32, Int)? {
        let first = UInt32(bytes[index])
        let length: Int
        var scalar: UInt32
        switch first {
        case 0xC2...0xDF: length = 2; scalar = first & 0x1F
        case 0xE0...0xEF: length = 3; scalar = first & 0x0F
        case 0xF0...0xF4: length = 4; scalar = first & 0x07
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        for offset in 1..<length {
            let next = UInt32(bytes[index + offset])
            guard next & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | (next & 0x3F)
        }
        switch length {
        case 3 where scalar < 0x800 || (scalar >= 0xD800 && scalar <= 0xDFFF): return nil
        case 4 where scalar < 0x10000 || scalar > 0x10FFFF: return nil
        default: break
        }
        return (scalar, length)
    }

    /// An optional "-" and decimal digits without leading zeros, within Int32.
    public static func isCanonicalInt32(_ value: UnsafeRawBufferPointer) -> Bool {
        parseInt32(value, allowPlus: false, allowLeadingZeros: false) != nil
    }

    /// Parses `[+-]?[0-9]+` into an Int32, or nil (overflow included).
    public static func parseInt32(_ value: UnsafeRawBufferPointer, allowPlus: Bool, allowLeadingZeros: Bool) -> Int32? {
        var index = 0
        var negative = false
        if index < value.count && (value[index] == 0x2D || (allowPlus && value[index] == 0x2B)) {
            negative = value[index] == 0x2D
            index += 1
        }
        let digitsStart = index
        guard index < value.count else { return nil }
        if !allowLeadingZeros && value[index] == 0x30 && value.count - index > 1 { return nil }
        var magnitude: Int64 = 0
        while index < value.count {
            let digit = value[index] &- 0x30
            guard digit < 10 else { return nil }
            magnitude = magnitude * 10 + Int64(digit)
            if magnitude > 2_147_483_648 { return nil }
            index += 1
        }
        guard index > digitsStart else { return nil }
        let signed = negative ? -magnitude : magnitude
        guard signed >= Int64(Int32.min), signed <= Int64(Int32.max) else { return nil }
        if negative && magnitude == 0 && !allowLeadingZeros { return nil }  // "-0" is not canonical
        return Int32(signed)
    }

    /// RFC 3986 URI-reference, checked by character classes: unreserved, reserved and
    /// percent-encoded octets only, and a well-formed scheme when one is present.
    public static func isURIReference(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte == 0x25 {
                guard index + 2 < value.count, hexDigit(value[index + 1]) != nil, hexDigit(value[index + 2]) != nil else { return false }
                index += 3
                continue
            }
            guard isURICharacter(byte) else { return false }
            index += 1
        }
        // A colon before any "/", "?" or "#" means a scheme, which must be well formed.
        if let colon = value.firstIndex(of: 0x3A) {
            let firstDelimiter = value.firstIndex(where: { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 }) ?? value.count
            if colon < firstDelimiter { return isScheme(UnsafeRawBufferPointer(rebasing: value[..<colon])) }
        }
        return true
    }

    /// An absolute URI: a scheme, ":", and URI characters.
    public static func isAbsoluteURI(_ value: UnsafeRawBufferPointer) -> Bool {
        guard let colon = value.firstIndex(of: 0x3A), colon > 0 else { return false }
        let firstDelimiter = value.firstIndex(where: { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 }) ?? value.count
        guard colon < firstDelimiter else { return false }
        return isURIReference(value)
    }

    static func isScheme(_ scheme: UnsafeRawBufferPointer) -> Bool {
        guard let first = scheme.first, isAlpha(first) else { return false }
        for byte in scheme.dropFirst() where !(isAlpha(byte) || isDigit(byte) || byte == 0x2B || byte == 0x2D || byte == 0x2E) {
            return false
        }
        return true
    }

    @inline(__always)
    static func isURICharacter(_ byte: UInt8) -> Bool {
        if isAlpha(byte) || isDigit(byte) { return true }
        switch byte {
        // unreserved: - . _ ~ ; gen-delims: : / ? # [ ] @ ; sub-delims: ! $ & ' ( ) * + , ; =
        case 0x2D, 0x2E, 0x5F, 0x7E, 0x3A, 0x2F, 0x3F, 0x23, 0x5B, 0x5D, 0x40,
             0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D:
            return true
        default:
            return false
        }
    }

    /// `type/subtype` followed by `; name=value` parameters (token or quoted-string values).
    public static func isMediaType(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        func token() -> Bool {
            let start = index
            while index < value.count && isTokenCharacter(value[index]) { index += 1 }
            return index > start
        }
        func skipSpace() {
            while index < value.count && (value[index] == 0x20 || value[index] == 0x09) { index += 1 }
        }
        guard token(), index < value.count, value[index] == 0x2F else { return false }
        index += 1
        guard token() else { return false }
        while true {
            skipSpace()
            if index == value.count { return true }
            guard value[index] == 0x3B else { return false }
            index += 1
            skipSpace()
            if index == value.count { return true }  // a trailing ";" is tolerated
            guard token(), index < value.count, value[index] == 0x3D else { return false }
            index += 1
            if index < value.count && value[index] == 0x22 {
                index += 1
                while index < value.count && value[index] != 0x22 {
                    if value[index] == 0x5C { index += 1 }
                    index += 1
                }
                guard index < value.count else { return false }
                index += 1
            } else if !token() {
                return false
            }
        }
    }

    /// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, T and Z in either case.
    public static func isRFC3339(_ value: UnsafeRawBufferPointer) -> Bool {
        func number(_ at: Int, _ digits: Int) -> Int? {
            guard at + digits <= value.count else { return nil }
            var result = 0
            for offset in 0..<digits {
                let digit = value[at + offset] &- 0x30
                guard digit < 10 else { return nil }
                result = result * 10 + Int(digit)
            }
            return result
        }
        guard value.count >= 20,
              let year = number(0, 4), value[4] == 0x2D,
              let month = number(5, 2), value[7] == 0x2D,
              let day = number(8, 2), value[10] == 0x54 || value[10] == 0x74,
              let hour = number(11, 2), value[13] == 0x3A,
              let minute = number(14, 2), value[16] == 0x3A,
              let second = number(17, 2)
        else { return false }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return false }
        var index = 19
        if index < value.count && value[index] == 0x2E {
            index += 1
            let start = index
            while index < value.count && isDigit(value[index]) { index += 1 }
            guard index > start else { return false }
        }
        guard index < value.count else { return false }
        if value[index] == 0x5A || value[index] == 0x7A { return index + 1 == value.count }
        guard value[index] == 0x2B || value[index] == 0x2D, index + 6 == value.count,
              let offsetHour = number(index + 1, 2), value[index + 3] == 0x3A,
              let offsetMinute = number(index + 4, 2)
        else { return false }
        return offsetHour <= 23 && offsetMinute <= 59
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    @inline(__always) static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    @inline(__always)
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        if isAlpha(byte) || isDigit(byte) { return true }
        switch byte {
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }
}

@inline(__always)
func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x41...0x46: return byte - 0x41 + 10
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}
