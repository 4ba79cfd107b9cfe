/// The error kinds of CESQL (spec §3.3).
public enum CESQLErrorKind: String, Sendable, Equatable {
    case parse, math, cast, missingAttribute, missingFunction, functionEvaluation, generic
}

/// The three CESQL types.
public enum CESQLType: Sendable, Equatable {
    case boolean, integer, string
}

/// A CESQL value. Strings borrow their bytes from the event or the compiled expression while
/// an evaluation runs (no allocation); strings computed by functions own their bytes.
public struct CESQLValue: @unchecked Sendable {  // borrowed bytes live only during one evaluation
    enum Storage {
        case boolean(Bool)
        case integer(Int32)
        case borrowed(UnsafeRawBufferPointer)
        case owned([UInt8])
    }

    let storage: Storage

    static func boolean(_ value: Bool) -> CESQLValue { CESQLValue(storage: .boolean(value)) }
    static func integer(_ value: Int32) -> CESQLValue { CESQLValue(storage: .integer(value)) }
    static func string(_ bytes: [UInt8]) -> CESQLValue { CESQLValue(storage: .owned(bytes)) }
    static func string(borrowing bytes: UnsafeRawBufferPointer) -> CESQLValue { CESQLValue(storage: .borrowed(bytes)) }
    static let emptyString = CESQLValue(storage: .owned([]))

    public var type: CESQLType {
        switch storage {
        case .boolean: return .boolean
        case .integer: return .integer
        case .borrowed, .owned: return .string
        }
    }

    static func zero(_ type: CESQLType) -> CESQLValue {
        switch type {
        case .boolean: return .boolean(false)
        case .integer: return .integer(0)
        case .string: return emptyString
        }
    }

    /// Calls `body` with the bytes of a string value.
    @inline(__always)
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch storage {
        case .borrowed(let bytes): return body(bytes)
        case .owned(let bytes): return bytes.withUnsafeBytes(body)
        case .boolean, .integer: return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    // MARK: Casts (spec §3.7)

    /// To Boolean: integers are true when non-zero; strings "true"/"false" in any case.
    func toBoolean() -> (Bool, CESQLErrorKind?) {
        switch storage {
        case .boolean(let value): return (value, nil)
        case .integer(let value): return (value != 0, nil)
        case .borrowed, .owned:
            return withBytes { bytes in
                if equalsIgnoringCase(bytes, "true") { return (true, nil) }
                if equalsIgnoringCase(bytes, "false") { return (false, nil) }
                return (false, .cast)
            }
        }
    }

    /// To Integer: booleans are 1 or 0; strings are `[+-]?[0-9]+` within 32 bits.
    func toInteger() -> (Int32, CESQLErrorKind?) {
        switch storage {
        case .boolean(let value): return (value ? 1 : 0, nil)
        case .integer(let value): return (value, nil)
        case .borrowed, .owned:
            return withBytes { bytes in
                if let value = AttributeValidationBridge.parseInt32(bytes) { return (value, nil) }
                return (0, .cast)
            }
        }
    }

    /// To String: integers in base 10, booleans as "true"/"false".
    func toStringValue() -> CESQLValue {
        switch storage {
        case .boolean(let value): return .string(Array((value ? "true" : "false").utf8))
        case .integer(let value): return .string(Array(String(value).utf8))
        case .borrowed, .owned: return self
        }
    }

    /// Casts to `type`, reporting a CastError with the zero value when it cannot.
    func cast(to type: CESQLType) -> (CESQLValue, CESQLErrorKind?) {
        switch type {
        case .boolean:
            let (value, error) = toBoolean()
            return (.boolean(value), error)
        case .integer:
            let (value, error) = toInteger()
            return (.integer(value), error)
        case .string:
            return (toStringValue(), nil)
        }
    }

    /// `=` on two values of the same type; strings compare case-sensitively by bytes.
    func equals(_ other: CESQLValue) -> Bool {
        switch (storage, other.storage) {
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        default:
            return withBytes { a in other.withBytes { b in SluiceFilterBytes.equal(a, b) } }
        }
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

import SluiceCloudEvents

enum SluiceFilterBytes {
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        SluiceCloudEvents.bytesEqual(a, b)
    }
}
