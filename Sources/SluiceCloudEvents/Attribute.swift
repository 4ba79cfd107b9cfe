import Glibc

/// CloudEvents specification versions this module reads and writes.
public enum SpecVersion: UInt8, Sendable, CustomStringConvertible {
    case v1_0 = 0
    case v0_3 = 1

    @inlinable
    public init?(text: some Collection<UInt8>) {
        if text.elementsEqual("1.0".utf8) {
            self = .v1_0
        } else if text.elementsEqual("0.3".utf8) {
            self = .v0_3
        } else {
            return nil
        }
    }

    public var description: String { self == .v1_0 ? "1.0" : "0.3" }
}

/// The type system of CloudEvents attributes (spec "Type System"). Values are always kept as
/// their canonical string; the kind says how to read it.
public enum AttributeKind: UInt8, Sendable {
    case string = 0
    case integer = 1
    case boolean = 2
    case uri = 3
    case uriReference = 4
    case timestamp = 5
    case binary = 6
}

/// Well-known attribute names, as bytes, for lookups without building Strings.
public enum AttributeName {
    public static let id: StaticString = "id"
    public static let source: StaticString = "source"
    public static let type: StaticString = "type"
    public static let specversion: StaticString = "specversion"
    public static let datacontenttype: StaticString = "datacontenttype"
    public static let dataschema: StaticString = "dataschema"
    public static let subject: StaticString = "subject"
    public static let time: StaticString = "time"
    public static let schemaurl: StaticString = "schemaurl"
    public static let datacontentencoding: StaticString = "datacontentencoding"

    /// Knative's extensions.
    public static let knativearrivaltime: StaticString = "knativearrivaltime"
    public static let knativebrokerttl: StaticString = "knativebrokerttl"
    public static let knativeerrordest: StaticString = "knativeerrordest"
    public static let knativeerrorcode: StaticString = "knativeerrorcode"
    public static let knativeerrordata: StaticString = "knativeerrordata"

    /// The kind a context attribute must have, or nil for an extension (any kind).
    static func requiredKind(of name: UnsafeRawBufferPointer, version: SpecVersion) -> AttributeKind? {
        switch name.count {
        case 2 where bytesEqual(name, id): return .string
        case 4 where bytesEqual(name, type): return .string
        case 4 where bytesEqual(name, time): return .timestamp
        case 6 where bytesEqual(name, source): return .uriReference
        case 7 where bytesEqual(name, subject): return .string
        case 9 where version == .v0_3 && bytesEqual(name, schemaurl): return .uriReference
        case 10 where version == .v1_0 && bytesEqual(name, dataschema): return .uri
        case 15 where bytesEqual(name, datacontenttype): return .string
        case 19 where version == .v0_3 && bytesEqual(name, datacontentencoding): return .string
        default: return nil
        }
    }
}

/// Byte equality of a buffer and a literal.
@inlinable @inline(__always)
public func bytesEqual(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    guard let base = bytes.baseAddress else { return literal.utf8CodeUnitCount == 0 }
    return sameBytes(base, UnsafeRawPointer(literal.utf8Start), count: bytes.count)
}

/// Byte equality of two buffers.
@inlinable @inline(__always)
public func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard let first = a.baseAddress, let second = b.baseAddress else { return a.count == 0 }
    return sameBytes(first, second, count: a.count)
}

/// Attribute names and values are short: comparing them a word at a time inline beats a call
/// to memcmp, which still takes over beyond a few words.
@inlinable @inline(__always)
func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
    if count >= 8 {
        if count > 32 { return memcmp(a, b, count) == 0 }
        var offset = 0
        while offset + 8 < count {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        // The last word overlaps the previous one rather than falling back to bytes.
        return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    for offset in 0..<count where a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) {
        return false
    }
    return true
}
