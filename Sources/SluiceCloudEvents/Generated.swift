import Glibc

/// Attribute values a source makes up for the events it builds: an RFC 3339 time from a
/// timestamp here, random ids below (`UUIDGenerator`).
public enum Generated {
    /// Milliseconds since the epoch as RFC 3339 in UTC, with milliseconds
    /// (`2026-12-01T21:20:12.345Z`).
    public static func rfc3339(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }
}

/// Version 4 UUIDs for one thread, cheaply: SplitMix64 seeded once from the system's random
/// source, so a UUID costs no system call (the system source costs one per call). SplitMix64
/// steps through every 64-bit value once, so a generator never repeats itself, and the 128-bit
/// random seed makes two generators' outputs as unlikely to meet as two random UUIDs.
public struct UUIDGenerator {
    private var state: UInt64
    private var stream: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
        stream = system.next() | 1
    }

    private mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) ^ stream
    }

    public mutating func next() -> String {
        let high = nextWord()
        let low = nextWord()
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            bytes[index + 8] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
        }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let digits: StaticString = "0123456789abcdef"
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits.utf8Start[Int(byte >> 4)])
            text.append(digits.utf8Start[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
