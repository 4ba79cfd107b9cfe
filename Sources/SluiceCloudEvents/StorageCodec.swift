/// The bytes an event is stored as (the durable log's event records): the attribute table and
/// its bytes copied as they are, then the data. Writing is one copy; reading checks every
/// offset against the record before building the event, so a damaged record is refused,
/// never trusted. The layout is the host's (little-endian on every platform Sluice builds
/// for); the log's format version guards changes.
///
///     u8 codec version (1) | u8 spec version | u8 flags (1: data is implied JSON, 2: has data)
///     u32 attribute count | u32 transport count | u32 table-and-bytes length | table and bytes
///     u32 data length | data                                    (when flag 2 is set)
extension CloudEvent {
    static let storageCodecVersion: UInt8 = 1

    /// Bytes `appendStorageBytes` writes for this event.
    public var storageByteCount: Int {
        15 + Int(storage.header.byteCount) + (data.map { 4 + $0.count } ?? 0)
    }

    public func appendStorageBytes(to output: inout [UInt8]) {
        let header = storage.header
        output.append(CloudEvent.storageCodecVersion)
        output.append(header.specVersion.rawValue)
        output.append((header.dataImpliedJSON ? 1 : 0) | (data != nil ? 2 : 0))
        appendUInt32(header.attributeCount, to: &output)
        appendUInt32(header.transportCount, to: &output)
        appendUInt32(header.byteCount, to: &output)
        storage.withUnsafeMutablePointerToElements { elements in
            output.append(contentsOf: UnsafeRawBufferPointer(start: elements, count: Int(header.byteCount)))
        }
        if let data {
            appendUInt32(UInt32(data.count), to: &output)
            output.append(contentsOf: data)
        }
    }

    /// The event stored in `bytes`, or nil when they are not a well-formed stored event.
    public init?(storageBytes bytes: UnsafeRawBufferPointer) {
        var reader = StorageReader(bytes: bytes)
        guard reader.byte() == CloudEvent.storageCodecVersion,
              let specVersion = reader.byte().flatMap(SpecVersion.init(rawValue:)),
              let flags = reader.byte(),
              let attributeCount = reader.uint32(), let transportCount = reader.uint32(),
              let byteCount = reader.uint32(),
              let blob = reader.bytes(Int(byteCount)) else { return nil }
        let entryCount = Int(attributeCount) + Int(transportCount)
        let tableBytes = entryCount * MemoryLayout<EventEntry>.stride
        guard attributeCount <= 10_000, transportCount <= 10_000, tableBytes <= blob.count else { return nil }
        for index in 0..<entryCount {
            let entry = blob.loadUnaligned(fromByteOffset: index * MemoryLayout<EventEntry>.stride, as: EventEntry.self)
            guard Int(entry.nameStart) >= tableBytes, Int(entry.nameStart) + Int(entry.nameCount) <= blob.count,
                  Int(entry.valueStart) >= tableBytes, Int(entry.valueStart) + Int(entry.valueCount) <= blob.count,
                  AttributeKind(rawValue: entry.kind) != nil else { return nil }
        }
        var data: [UInt8]?
        if flags & 2 != 0 {
            guard let count = reader.uint32(), let dataBytes = reader.bytes(Int(count)) else { return nil }
            data = Array(dataBytes)
        }
        guard reader.isAtEnd else { return nil }
        let storage = unsafeDowncast(EventStorage.create(minimumCapacity: blob.count) { _ in
            EventHeader(specVersion: specVersion, dataImpliedJSON: flags & 1 != 0,
                        attributeCount: attributeCount, transportCount: transportCount, byteCount: byteCount)
        }, to: EventStorage.self)
        storage.withUnsafeMutablePointerToElements { elements in
            if let base = blob.baseAddress { UnsafeMutableRawPointer(elements).copyMemory(from: base, byteCount: blob.count) }
        }
        self.init(storage: storage, data: data)
    }
}

@inline(__always)
private func appendUInt32(_ value: UInt32, to output: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
}

/// Reads fields off a byte buffer, answering nil past its end.
private struct StorageReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}
