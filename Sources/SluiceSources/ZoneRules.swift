import Glibc

/// A time zone's offsets from UTC, read from the system's zone database (TZif files, RFC 8536,
/// under `$TZDIR` or /usr/share/zoneinfo): the recorded transitions, then the POSIX TZ rule of
/// the file's footer for times after them (and for files that record none). What a PingSource
/// schedule needs to fire at local times, without Foundation's ICU.
public struct ZoneRules: Sendable {
    public let name: String
    /// Transition instants (seconds since the epoch, ascending) and the UTC offset from each.
    let transitions: [Int64]
    let offsets: [Int32]
    /// The offset before the first transition.
    let initialOffset: Int32
    /// For instants after the last transition.
    let rule: PosixZoneRule?

    public static let utc = ZoneRules(name: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)

    /// The zone named `name` (`Europe/Paris`, `UTC`); nil when the database has no such zone
    /// or its file cannot be read.
    public init?(named name: String) {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(".."),
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/_-+".contains($0)) }) else { return nil }
        let directory = getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
        guard let bytes = ZoneRules.read(directory + "/" + name) else { return nil }
        self.init(name: name, tzif: bytes)
    }

    /// The process's zone: `TZ` when it names one, else /etc/localtime, else UTC.
    public static var local: ZoneRules {
        if let variable = getenv("TZ").map({ String(cString: $0) }), !variable.isEmpty {
            let name = variable.hasPrefix(":") ? String(variable.dropFirst()) : variable
            if let zone = ZoneRules(named: name) { return zone }
            if let rule = PosixZoneRule(name) { return ZoneRules(name: name, transitions: [], offsets: [], initialOffset: rule.standardOffset, rule: rule) }
        }
        if let bytes = read("/etc/localtime"), let zone = ZoneRules(name: "localtime", tzif: bytes) { return zone }
        return .utc
    }

    init(name: String, transitions: [Int64], offsets: [Int32], initialOffset: Int32, rule: PosixZoneRule?) {
        self.name = name
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.rule = rule
    }

    /// Seconds to add to UTC for local time at `instant`.
    public func offset(at instant: Int64) -> Int32 {
        if let last = transitions.last, instant >= last, let rule { return rule.offset(at: instant) }
        if transitions.isEmpty { return rule?.offset(at: instant) ?? initialOffset }
        guard instant >= transitions[0] else { return initialOffset }
        var low = 0, high = transitions.count - 1  // the last transition at or before `instant`
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= instant { low = middle } else { high = middle - 1 }
        }
        return offsets[low]
    }

    // MARK: TZif

    init?(name: String, tzif bytes: [UInt8]) {
        var reader = TZifReader(bytes: bytes)
        guard reader.take(4).map(Array.init) == Array("TZif".utf8), let version = reader.take(1)?.first, reader.take(15) != nil,
              var counts = reader.counts() else { return nil }
        var timeSize = 4
        if version >= 0x32 {  // '2' and later: skip the 32-bit block for the 64-bit one
            guard reader.skip(counts.dataLength(timeSize: 4)), reader.take(20) != nil, let wide = reader.counts() else { return nil }
            counts = wide
            timeSize = 8
        }
        guard counts.types > 0 else { return nil }
        var times: [Int64] = []
        for _ in 0..<counts.times {
            guard let time = reader.integer(timeSize) else { return nil }
            times.append(time)
        }
        guard let indices = reader.take(counts.times) else { return nil }
        var typeOffsets: [Int32] = []
        for _ in 0..<counts.types {
            guard let offset = reader.integer(4), reader.take(2) != nil else { return nil }
            typeOffsets.append(Int32(truncatingIfNeeded: offset))
        }
        guard indices.allSatisfy({ Int($0) < typeOffsets.count }),
              reader.skip(counts.characters + counts.leaps * (timeSize + 4) + counts.standardFlags + counts.utFlags) else { return nil }
        var rule: PosixZoneRule?
        if version >= 0x32, let footer = reader.rest(), footer.first == 0x0A {
            let text = footer.dropFirst().prefix { $0 != 0x0A }
            if text.count < footer.count - 1 { rule = PosixZoneRule(String(decoding: text, as: UTF8.self)) }
        }
        self.init(name: name, transitions: times, offsets: indices.map { typeOffsets[Int($0)] },
                  initialOffset: typeOffsets[0], rule: rule)
    }

    private static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 256 * 1024)  // zone files are a few KiB
        let count = fread(&bytes, 1, bytes.count, file)
        guard count > 0, count < bytes.count else { return nil }
        return Array(bytes[0..<count])
    }
}

/// Big-endian fields of a TZif file, bounds-checked.
private struct TZifReader {
    struct Counts {
        var utFlags = 0, standardFlags = 0, leaps = 0, times = 0, types = 0, characters = 0

        func dataLength(timeSize: Int) -> Int {
            times * timeSize + times + types * 6 + characters + leaps * (timeSize + 4) + standardFlags + utFlags
        }
    }

    let bytes: [UInt8]
    var index = 0

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, index + count <= bytes.count else { return nil }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    mutating func integer(_ size: Int) -> Int64? {
        guard let field = take(size) else { return nil }
        let unsigned = field.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return size == 4 ? Int64(Int32(truncatingIfNeeded: unsigned)) : Int64(bitPattern: unsigned)
    }

    mutating func counts() -> Counts? {
        var fields: [Int] = []
        for _ in 0..<6 {
            guard let value = integer(4), (0...1_000_000).contains(value) else { return nil }
            fields.append(Int(value))
        }
        return Counts(utFlags: fields[0], standardFlags: fields[1], leaps: fields[2], times: fields[3], types: fields[4], characters: fields[5])
    }

    mutating func rest() -> ArraySlice<UInt8>? { take(bytes.count - index) }
}
