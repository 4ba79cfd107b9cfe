import SluiceCloudEvents

/// The error kinds of CESQL (spec §3.3).
public enum CESQLErrorKind: String, Sendable, Equatable {
    case parse, math, cast, missingAttribute, missingFunction, functionEvaluation, generic
}

/// The three CESQL types.
public enum CESQLType: Sendable, Equatable {
    case boolean, integer, string
}

/// The result of an evaluation, owning its bytes so it outlives the event.
public enum CESQLResultValue: Sendable, Equatable {
    case boolean(Bool)
    case integer(Int32)
    case string(String)
}

/// A value while one evaluation runs. Strings are views of bytes someone else keeps alive
/// (the event, the compiled expression's literals, or the evaluation's arena), so a value is
/// plain bits: copying it costs no reference counting.
struct CESQLValue {
    enum Storage {
        case boolean(Bool)
        case integer(Int32)
        case string(UnsafeRawBufferPointer)
    }

    let storage: Storage

    @inline(__always) static func boolean(_ value: Bool) -> CESQLValue { CESQLValue(storage: .boolean(value)) }
    @inline(__always) static func integer(_ value: Int32) -> CESQLValue { CESQLValue(storage: .integer(value)) }
    @inline(__always) static func string(_ bytes: UnsafeRawBufferPointer) -> CESQLValue { CESQLValue(storage: .string(bytes)) }
    @inline(__always) static func string(_ literal: StaticString) -> CESQLValue {
        .string(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
    static var emptyString: CESQLValue { .string(UnsafeRawBufferPointer(start: nil, count: 0)) }

    var type: CESQLType {
        switch storage {
        case .boolean: return .boolean
        case .integer: return .integer
        case .string: return .string
        }
    }

    static func zero(_ type: CESQLType) -> CESQLValue {
        switch type {
        case .boolean: return .boolean(false)
        case .integer: return .integer(0)
        case .string: return emptyString
        }
    }

    /// The bytes of a string value (empty for the other types).
    @inline(__always)
    var bytes: UnsafeRawBufferPointer {
        if case .string(let bytes) = storage { return bytes }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    var result: CESQLResultValue {
        switch storage {
        case .boolean(let value): return .boolean(value)
        case .integer(let value): return .integer(value)
        case .string(let bytes): return .string(String(decoding: bytes, as: UTF8.self))
        }
    }

    // MARK: Casts (spec §3.7)

    /// To Boolean: integers are true when non-zero; strings "true"/"false" in any case.
    func toBoolean() -> (Bool, CESQLErrorKind?) {
        switch storage {
        case .boolean(let value): return (value, nil)
        case .integer(let value): return (value != 0, nil)
        case .string(let bytes):
            if equalsIgnoringCase(bytes, "true") { return (true, nil) }
            if equalsIgnoringCase(bytes, "false") { return (false, nil) }
            return (false, .cast)
        }
    }

    /// To Integer: booleans are 1 or 0; strings are `[+-]?[0-9]+` within 32 bits.
    func toInteger() -> (Int32, CESQLErrorKind?) {
        switch storage {
        case .boolean(let value): return (value ? 1 : 0, nil)
        case .integer(let value): return (value, nil)
        case .string(let bytes):
            if let value = AttributeValidationBridge.parseInt32(bytes) { return (value, nil) }
            return (0, .cast)
        }
    }

    /// To String: integers in base 10 (written into the arena), booleans as "true"/"false".
    func toStringValue(_ arena: inout CESQLArena) -> CESQLValue {
        switch storage {
        case .boolean(let value): return value ? .string("true") : .string("false")
        case .integer(let value): return .string(arena.store(String(value).utf8))
        case .string: return self
        }
    }

    /// Casts to `type`; a failed cast gives the zero value and a CastError.
    func cast(to type: CESQLType, _ arena: inout CESQLArena) -> (CESQLValue, CESQLErrorKind?) {
        switch type {
        case .boolean:
            let (value, error) = toBoolean()
            return (.boolean(value), error)
        case .integer:
            let (value, error) = toInteger()
            return (.integer(value), error)
        case .string:
            return (toStringValue(&arena), nil)
        }
    }

    /// `=` on two values of the same type; strings compare case-sensitively by bytes.
    func equals(_ other: CESQLValue) -> Bool {
        switch (storage, other.storage) {
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.string(let a), .string(let b)): return bytesEqual(a, b)
        default: return false
        }
    }
}

/// Bytes of the strings an evaluation computes (function results, integers cast to text),
/// freed when the evaluation ends. Evaluations that compute no string never allocate.
struct CESQLArena: ~Copyable {
    private var blocks: [UnsafeMutableRawBufferPointer] = []

    init() {}

    mutating func store<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UnsafeRawBufferPointer {
        if bytes.isEmpty { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        _ = block.initializeMemory(as: UInt8.self, from: bytes)
        blocks.append(block)
        return UnsafeRawBufferPointer(block)
    }

    deinit {
        for block in blocks { block.deallocate() }
    }
}

/// Bytes a compiled expression keeps for its whole life at a stable address (literals,
/// attribute names, LIKE pieces), so evaluations can point into them.
final class CESQLBytes: @unchecked Sendable {  // immutable after init
    let buffer: UnsafeRawBufferPointer

    init(_ bytes: [UInt8]) {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        _ = block.initializeMemory(as: UInt8.self, from: bytes)
        buffer = UnsafeRawBufferPointer(rebasing: block[0..<bytes.count])
    }

    deinit {
        UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate()
    }
}

@inline(__always)
func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    for index in 0..<bytes.count {
        let byte = bytes[index]
        if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != lowercase.utf8Start[index] { return false }
    }
    return true
}
