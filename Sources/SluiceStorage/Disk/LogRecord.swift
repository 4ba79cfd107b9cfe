import SluiceIO

/// The records of a broker's log. Every record is framed the same way:
///
///     u32 marker "SLRC" | u32 payload length | u32 CRC-32C of length and payload | payload
///
/// and the payload starts with its kind. The marker lets recovery find the next record after
/// a damaged one; the checksum covers the length, so a damaged length is caught too.
/// Integers are little-endian.
enum LogRecord {
    static let marker: UInt32 = 0x4352_4C53  // "SLRC" in memory order
    static let headerBytes = 12
    /// The largest payload a record may claim: an event body (4 MiB by default, bounded by
    /// --max-body-bytes) plus its attributes, with room to spare.
    static let maxPayloadBytes = 256 * 1024 * 1024

    enum Kind: UInt8 {
        /// u64 sequence | u16 trigger count | u32 trigger ids... | stored event bytes
        case event = 1
        /// u32 trigger id | u64 sequence: the trigger is done with the event.
        case done = 2
        /// u32 trigger id | u64 sequence | u32 attempts made | i64 next attempt (ms since epoch)
        case retry = 3
        /// u32 trigger id | UTF-8 key ("namespace/name"): names an id from here on.
        case trigger = 4
        /// u32 trigger id: the trigger was removed; its events are released.
        case triggerRemoved = 5
    }

    /// Frames a payload being built in `output`: call `begin`, append the payload, then `end`.
    static func begin(_ kind: Kind, in output: inout [UInt8]) -> Int {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: headerBytes))
        output.append(kind.rawValue)
        return start
    }

    /// Writes the marker, length and (when `seal`) checksum of the record started at `start`.
    /// Event records leave the checksum to the committer, which seals them once their
    /// sequence number is in.
    static func end(_ start: Int, in output: inout [UInt8], seal: Bool = true) {
        let length = UInt32(output.count - start - headerBytes)
        output.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: marker.littleEndian, toByteOffset: start, as: UInt32.self)
            raw.storeBytes(of: length.littleEndian, toByteOffset: start + 4, as: UInt32.self)
            if seal { reseal(start, in: raw) }
        }
    }

    /// The checksum of the record at `record`: its length field, then its payload.
    @inline(__always)
    static func checksum(_ record: UnsafeRawPointer, length: Int) -> UInt32 {
        CRC32C.update(CRC32C.update(0, record + 4, count: 4), record + headerBytes, count: length)
    }

    /// Computes the checksum of the record at `start` from its length and payload.
    static func reseal(_ start: Int, in raw: UnsafeMutableRawBufferPointer) {
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self)))
        raw.storeBytes(of: checksum(UnsafeRawPointer(raw.baseAddress! + start), length: length).littleEndian,
                       toByteOffset: start + 8, as: UInt32.self)
    }

    /// What is at `offset` in `bytes`: a whole, intact record (its payload), or why not.
    enum Frame {
        case record(payload: UnsafeRawBufferPointer, next: Int)
        /// The bytes end before the record does.
        case truncated
        /// Not a record here: wrong marker, impossible length, or a checksum mismatch.
        case damaged
    }

    static func frame(in bytes: UnsafeRawBufferPointer, at offset: Int) -> Frame {
        guard offset + headerBytes <= bytes.count else { return .truncated }
        guard UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) == marker else { return .damaged }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)))
        guard length >= 1, length <= maxPayloadBytes else { return .damaged }
        guard offset + headerBytes + length <= bytes.count else { return .truncated }
        let expected = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
        guard checksum(bytes.baseAddress! + offset, length: length) == expected else { return .damaged }
        return .record(payload: UnsafeRawBufferPointer(rebasing: bytes[(offset + headerBytes)..<(offset + headerBytes + length)]),
                       next: offset + headerBytes + length)
    }
}

/// Little-endian fields appended to a record being built.
extension Array where Element == UInt8 {
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Reads little-endian fields off a record's payload; nil past its end.
struct PayloadReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func read<Value: FixedWidthInteger>(_: Value.Type) -> Value? {
        let size = MemoryLayout<Value>.size
        guard offset + size <= bytes.count else { return nil }
        defer { offset += size }
        return Value(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Value.self))
    }

    /// The next `count` bytes; nil past the end.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// The bytes left.
    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[offset...]) }
}
