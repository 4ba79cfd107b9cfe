import Glibc

/// A growable byte buffer with separate read and write positions, owned by one thread.
///
/// Connections keep one for input and one for output for their whole life: the memory is
/// reused request after request, and parsers look at the bytes in place through
/// `readableBytes` instead of copying them out.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public private(set) var readerIndex = 0
    public private(set) var writerIndex = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit {
        base.deallocate()
    }

    @inline(__always) public var readableCount: Int { writerIndex - readerIndex }
    @inline(__always) public var writableCount: Int { capacity - writerIndex }
    @inline(__always) public var isEmpty: Bool { writerIndex == readerIndex }

    /// The unread bytes; valid until the next mutation.
    @inline(__always)
    public var readableBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readerIndex, count: writerIndex - readerIndex)
    }

    /// Free space after the written bytes, for `read(2)` to fill; commit with `didWrite`.
    @inline(__always)
    public var writableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + writerIndex, count: capacity - writerIndex)
    }

    @inline(__always)
    public func didWrite(_ count: Int) {
        writerIndex += count
    }

    @inline(__always)
    public func consume(_ count: Int) {
        readerIndex += count
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    public func clear() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Makes room for at least `count` more bytes after the written ones, first by moving the
    /// unread bytes to the front, then by growing.
    public func reserveWritable(_ count: Int) {
        if writableCount >= count { return }
        if readerIndex > 0 {
            let unread = readableCount
            memmove(base, base + readerIndex, unread)
            readerIndex = 0
            writerIndex = unread
            if writableCount >= count { return }
        }
        var newCapacity = capacity
        while newCapacity - writerIndex < count { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: writerIndex)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Gives memory back after an unusually large message, keeping the unread bytes.
    public func shrink(to target: Int) {
        guard capacity > target, readableCount <= target else { return }
        let unread = readableCount
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: target, alignment: 16)
        newBase.copyMemory(from: base + readerIndex, byteCount: unread)
        base.deallocate()
        base = newBase
        capacity = target
        readerIndex = 0
        writerIndex = unread
    }

    // MARK: Appending

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserveWritable(bytes.count)
        (base + writerIndex).copyMemory(from: source, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    @inline(__always)
    public func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends a String's UTF-8. Named apart from the StaticString overload on purpose: with
    /// both under one name, a string literal would pick this slower one.
    public func append(string text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    public func append(byte: UInt8) {
        reserveWritable(1)
        base.storeBytes(of: byte, toByteOffset: writerIndex, as: UInt8.self)
        writerIndex += 1
    }

    /// Appends the decimal digits of a non-negative integer without allocating.
    public func appendDecimal(_ value: Int) {
        reserveWritable(20)
        if value <= 0 {
            if value == 0 { append(byte: UInt8(ascii: "0")) }
            return
        }
        var digits = 0
        var rest = value
        while rest > 0 { digits += 1; rest /= 10 }
        rest = value
        var position = writerIndex + digits - 1
        while rest > 0 {
            base.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: position, as: UInt8.self)
            rest /= 10
            position -= 1
        }
        writerIndex += digits
    }

    /// A copy of the unread bytes, for tests and diagnostics.
    public var readableArray: [UInt8] { Array(readableBytes) }
}
