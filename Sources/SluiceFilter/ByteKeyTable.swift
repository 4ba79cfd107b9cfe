import SluiceCloudEvents

/// An open-addressing hash table keyed by byte strings, looked up with a borrowed buffer:
/// no String and no array is made per lookup. Built once at config load; read-only after.
public struct ByteKeyTable<Value: Sendable>: Sendable {
    private var keys: [[UInt8]?]
    private var values: [Value?]
    private var mask: Int
    public private(set) var count = 0

    public init(minimumCapacity: Int = 8) {
        var capacity = 8
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        keys = Array(repeating: nil, count: capacity)
        values = Array(repeating: nil, count: capacity)
        mask = capacity - 1
    }

    /// FNV-1a, 64-bit: fast on the short strings event types and sources are.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    public subscript(key: [UInt8]) -> Value? {
        get { key.withUnsafeBytes { self[bytes: $0] } }
        set {
            guard let newValue else { return }  // removal is not needed by builders
            if (count + 1) * 2 > keys.count { grow() }
            var slot = key.withUnsafeBytes { ByteKeyTable.hash($0) } & mask
            while let existing = keys[slot] {
                if existing == key {
                    values[slot] = newValue
                    return
                }
                slot = (slot + 1) & mask
            }
            keys[slot] = key
            values[slot] = newValue
            count += 1
        }
    }

    @inline(__always)
    public subscript(bytes key: UnsafeRawBufferPointer) -> Value? {
        var slot = ByteKeyTable.hash(key) & mask
        while let existing = keys[slot] {
            if existing.count == key.count && existing.withUnsafeBytes({ SluiceCloudEventsBytes.equal($0, key) }) {
                return values[slot]
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        keys = Array(repeating: nil, count: oldKeys.count * 2)
        values = Array(repeating: nil, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for (key, value) in zip(oldKeys, oldValues) {
            if let key, let value { self[key] = value }
        }
    }
}


enum SluiceCloudEventsBytes {
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        SluiceCloudEvents.bytesEqual(a, b)
    }
}
