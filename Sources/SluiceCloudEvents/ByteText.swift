/// Byte-level text helpers the formats and the protocol bindings share. Public and inlinable:
/// the bindings live in their own modules and call these once per header byte.

@inlinable @inline(__always)
public func asciiLowercase(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

/// Whether `bytes`, lowercased, equal `lowercase`.
@inlinable @inline(__always)
public func asciiEqualsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    for index in 0..<bytes.count where asciiLowercase(bytes[index]) != lowercase.utf8Start[index] { return false }
    return true
}

/// Whether `bytes`, lowercased, start with `lowercase`.
@inlinable @inline(__always)
public func startsWithCaseInsensitive(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count >= lowercase.utf8CodeUnitCount else { return false }
    return asciiEqualsLowercase(UnsafeRawBufferPointer(rebasing: bytes[..<lowercase.utf8CodeUnitCount]), lowercase)
}

/// `withUnsafeBytes` for bodies that throw `CloudEventError` (the standard one only rethrows
/// untyped errors).
@inlinable @inline(__always)
public func withBytes<Result>(of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CloudEventError) -> Result) throws(CloudEventError) -> Result {
    let outcome: Swift.Result<Result, CloudEventError> = array.withUnsafeBytes { bytes in
        Swift.Result { () throws(CloudEventError) in try body(bytes) }
    }
    return try outcome.get()
}
