import Glibc

/// A CloudEvent, immutable, in two allocations: a table of attributes and transport headers
/// followed by their bytes, and the data as its own array (so an HTTP or Kafka body can be
/// sent from it as is). Sharing it between triggers, threads and the store costs reference
/// counts, and reading an attribute is a short scan over the table comparing bytes, with no
/// String in sight. Conveniences that build Strings exist for tests and cold paths.
///
/// Attributes keep their canonical string form and their kind (spec "Type System"); the time
/// attribute keeps its original RFC 3339 text. Transport headers are what the producer sent
/// beside the event that must reach subscribers (traceparent, x-request-id, knative-*), kept
/// with the event so they survive storage.
public struct CloudEvent: @unchecked Sendable {  // the storage is never written after `build`
    let storage: EventStorage
    /// The data, or nil when the event has none.
    public let data: [UInt8]?

    public var specVersion: SpecVersion { storage.header.specVersion }
    public var attributeCount: Int { Int(storage.header.attributeCount) }
    public var hasData: Bool { data != nil }
    /// Bytes the event occupies (its table, names, values and data).
    public var byteCount: Int { Int(storage.header.byteCount) + (data?.count ?? 0) }
    /// True when the data came from a JSON-format event without datacontenttype, which
    /// implies `application/json` when the event is re-encoded (JSON format §3.1.2).
    public var dataIsImpliedJSON: Bool { storage.header.dataImpliedJSON }

    /// Calls `body` with a view of the event's bytes, valid only during the call.
    @inline(__always)
    public func withView<Result>(_ body: (EventView) throws -> Result) rethrows -> Result {
        try storage.withUnsafeMutablePointers { header, elements in
            try body(EventView(header: header.pointee, base: UnsafeRawPointer(elements)))
        }
    }

    // MARK: Conveniences (allocate)

    public var id: String { string(AttributeName.id) ?? "" }
    public var source: String { string(AttributeName.source) ?? "" }
    public var type: String { string(AttributeName.type) ?? "" }

    public func string(_ name: StaticString) -> String? {
        withView { view in view.value(of: name).map { String(decoding: $0, as: UTF8.self) } }
    }

    public func string(named name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            withView { view in view.value(ofBytes: UnsafeRawBufferPointer(wanted)).map { String(decoding: $0, as: UTF8.self) } }
        }
    }

    public func kind(named name: String) -> AttributeKind? {
        var name = name
        return name.withUTF8 { wanted in
            withView { view in view.index(ofBytes: UnsafeRawBufferPointer(wanted)).map { view.kind(at: $0) } }
        }
    }

    /// Every attribute, in order, with specversion first.
    public var attributes: [(name: String, value: String, kind: AttributeKind)] {
        withView { view in
            var result: [(name: String, value: String, kind: AttributeKind)] = [("specversion", specVersion.description, .string)]
            for index in 0..<view.attributeCount {
                result.append((String(decoding: view.name(at: index), as: UTF8.self),
                               String(decoding: view.value(at: index), as: UTF8.self), view.kind(at: index)))
            }
            return result
        }
    }

    public var transportHeaders: [(name: String, value: String)] {
        withView { view in
            (0..<view.transportCount).map {
                (String(decoding: view.transportName(at: $0), as: UTF8.self), String(decoding: view.transportValue(at: $0), as: UTF8.self))
            }
        }
    }
}

/// A read-only view of an event's bytes.
public struct EventView {
    let header: EventHeader
    let base: UnsafeRawPointer

    public var specVersion: SpecVersion { header.specVersion }
    public var attributeCount: Int { Int(header.attributeCount) }
    public var transportCount: Int { Int(header.transportCount) }

    @inline(__always)
    func entry(_ index: Int) -> EventEntry {
        base.loadUnaligned(fromByteOffset: index * MemoryLayout<EventEntry>.stride, as: EventEntry.self)
    }

    @inline(__always)
    public func name(at index: Int) -> UnsafeRawBufferPointer {
        let entry = entry(index)
        return UnsafeRawBufferPointer(start: base + Int(entry.nameStart), count: Int(entry.nameCount))
    }

    @inline(__always)
    public func value(at index: Int) -> UnsafeRawBufferPointer {
        let entry = entry(index)
        return UnsafeRawBufferPointer(start: base + Int(entry.valueStart), count: Int(entry.valueCount))
    }

    @inline(__always)
    public func kind(at index: Int) -> AttributeKind {
        AttributeKind(rawValue: entry(index).kind) ?? .string
    }

    /// Index of the attribute named `name`, or nil.
    @inline(__always)
    public func index(of name: StaticString) -> Int? {
        index(ofBytes: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    @inline(__always)
    public func index(ofBytes name: UnsafeRawBufferPointer) -> Int? {
        guard let wanted = name.baseAddress else { return nil }  // no attribute has an empty name
        for index in 0..<attributeCount {
            let entry = entry(index)
            if Int(entry.nameCount) == name.count, sameBytes(base + Int(entry.nameStart), wanted, count: name.count) {
                return index
            }
        }
        return nil
    }

    @inline(__always)
    public func value(of name: StaticString) -> UnsafeRawBufferPointer? {
        index(of: name).map { value(at: $0) }
    }

    @inline(__always)
    public func value(ofBytes name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        index(ofBytes: name).map { value(at: $0) }
    }

    public var dataIsImpliedJSON: Bool { header.dataImpliedJSON }

    public func transportName(at index: Int) -> UnsafeRawBufferPointer {
        name(at: attributeCount + index)
    }

    public func transportValue(at index: Int) -> UnsafeRawBufferPointer {
        value(at: attributeCount + index)
    }
}

struct EventHeader {
    var specVersion: SpecVersion
    var dataImpliedJSON: Bool
    var attributeCount: UInt32
    var transportCount: UInt32
    var byteCount: UInt32
}

/// One row of the table: where a name and its value are, and the value's kind.
struct EventEntry {
    var nameStart: UInt32
    var valueStart: UInt32
    var valueCount: UInt32
    var nameCount: UInt8
    var kind: UInt8
    var reserved: UInt16 = 0
}

final class EventStorage: ManagedBuffer<EventHeader, UInt8> {}
