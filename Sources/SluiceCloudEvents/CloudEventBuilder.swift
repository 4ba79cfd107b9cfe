import Glibc

/// Collects and validates attributes, then lays the event out in one allocation.
///
/// Keep one builder per thread and `reset()` it between events: its scratch arrays keep their
/// capacity, so building costs one allocation (the event) plus copying its bytes once.
public struct CloudEventBuilder: Sendable {
    private struct Pending: Sendable {
        var nameStart: Int
        var nameCount: Int
        var valueStart: Int
        var valueCount: Int
        var kind: AttributeKind
    }

    public var specVersion: SpecVersion = .v1_0
    private var scratch: [UInt8] = []
    private var attributes: [Pending] = []
    private var transport: [Pending] = []
    /// Set when the data came from a JSON event without datacontenttype.
    public var dataIsImpliedJSON = false

    public init() {
        scratch.reserveCapacity(1024)
        attributes.reserveCapacity(16)
    }

    public mutating func reset() {
        specVersion = .v1_0
        scratch.removeAll(keepingCapacity: true)
        attributes.removeAll(keepingCapacity: true)
        transport.removeAll(keepingCapacity: true)
        dataIsImpliedJSON = false
    }

    /// Adds an attribute after checking its name, its kind (context attributes have a fixed
    /// kind; `kind` is what the source format said) and its value.
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, kind: AttributeKind) throws(CloudEventError) {
        guard AttributeValidation.isValidName(name) else { throw .invalidAttributeName(String(decoding: name, as: UTF8.self)) }
        if (name.count == 4 && bytesEqual(name, "data")) || (name.count == 11 && bytesEqual(name, AttributeName.specversion)) {
            throw .reservedAttributeName(String(decoding: name, as: UTF8.self))
        }
        if contains(name) { throw .duplicateAttribute(String(decoding: name, as: UTF8.self)) }
        var effectiveKind = kind
        if let required = AttributeName.requiredKind(of: name, version: specVersion) {
            // Formats without types (headers) deliver strings; the context attribute's own
            // type decides. A JSON number or boolean for a String attribute is wrong.
            guard kind == .string || kind == required else {
                throw .invalidAttribute(name: String(decoding: name, as: UTF8.self), reason: "must be a string")
            }
            effectiveKind = required
            try checkContextAttribute(name, value, required)
        } else if let problem = AttributeValidation.problem(with: value, as: kind) {
            throw .invalidAttribute(name: String(decoding: name, as: UTF8.self), reason: problem)
        }
        attributes.append(append(name: name, value: value, kind: effectiveKind))
    }

    public mutating func add(name: String, value: String, kind: AttributeKind = .string) throws(CloudEventError) {
        var name = name
        var value = value
        let result: Result<Void, CloudEventError> = name.withUTF8 { nameBytes in
            value.withUTF8 { valueBytes in
                Result { () throws(CloudEventError) in
                    try add(name: UnsafeRawBufferPointer(nameBytes), value: UnsafeRawBufferPointer(valueBytes), kind: kind)
                }
            }
        }
        try result.get()
    }

    /// Adds or replaces an attribute without validation: for attributes Sluice itself sets
    /// (knativearrivaltime, knativebrokerttl, the dead-letter extensions).
    public mutating func set(trusted name: StaticString, value: UnsafeRawBufferPointer, kind: AttributeKind) {
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if let existing = index(of: nameBytes) {
            attributes.remove(at: existing)
        }
        attributes.append(append(name: nameBytes, value: value, kind: kind))
    }

    public mutating func set(trusted name: StaticString, value: String, kind: AttributeKind) {
        var value = value
        value.withUTF8 { set(trusted: name, value: UnsafeRawBufferPointer($0), kind: kind) }
    }

    /// Removes an attribute if present.
    public mutating func remove(_ name: StaticString) {
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if let index = index(of: nameBytes) { attributes.remove(at: index) }
    }

    /// Removes the attribute named `name` if present (an override replacing a value).
    public mutating func removeAttribute(named name: UnsafeRawBufferPointer) {
        if let index = index(of: name) { attributes.remove(at: index) }
    }

    /// Records a transport header to keep with the event (not an attribute).
    public mutating func addTransportHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        transport.append(append(name: UnsafeRawBufferPointer(rebasing: name.prefix(255)), value: value, kind: .string))
    }

    /// The value of an attribute added so far.
    public func value(of name: StaticString) -> [UInt8]? {
        withValue(of: name) { $0.map { Array($0) } }
    }

    /// Calls `body` with the value of an attribute added so far (nil when absent).
    public func withValue<Result>(of name: StaticString, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        guard let position = index(of: nameBytes) else { return body(nil) }
        let entry = attributes[position]
        return scratch.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[entry.valueStart..<(entry.valueStart + entry.valueCount)])) }
    }

    public func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        index(of: name) != nil
    }

    /// Position of the attribute named `name` in `attributes`: one pass, lengths first.
    private func index(of name: UnsafeRawBufferPointer) -> Int? {
        guard !attributes.isEmpty, let wanted = name.baseAddress, name.count > 0 else { return nil }
        return scratch.withUnsafeBytes { bytes -> Int? in
            guard let base = bytes.baseAddress else { return nil }
            for (position, pending) in attributes.enumerated() where pending.nameCount == name.count {
                if memcmp(base + pending.nameStart, wanted, name.count) == 0 { return position }
            }
            return nil
        }
    }

    /// Checks the required attributes are there (spec "REQUIRED Attributes").
    public func validateRequired() throws(CloudEventError) {
        for required in [AttributeName.id, AttributeName.source, AttributeName.type] {
            let name = UnsafeRawBufferPointer(start: required.utf8Start, count: required.utf8CodeUnitCount)
            if !contains(name) { throw .missingAttribute(required.description) }
        }
    }

    /// Lays the attributes out in one allocation; the event keeps `data` as given. `nil` data
    /// means none (an empty body in binary mode is no data).
    public func build(data: [UInt8]?) -> CloudEvent {
        let tableBytes = (attributes.count + transport.count) * MemoryLayout<EventEntry>.stride
        let total = tableBytes + scratch.count
        let storage = unsafeDowncast(EventStorage.create(minimumCapacity: total) { _ in
            EventHeader(specVersion: specVersion, dataImpliedJSON: dataIsImpliedJSON,
                        attributeCount: UInt32(attributes.count), transportCount: UInt32(transport.count),
                        byteCount: UInt32(total))
        }, to: EventStorage.self)
        storage.withUnsafeMutablePointerToElements { elements in
            let raw = UnsafeMutableRawPointer(elements)
            var offset = 0
            func store(_ pending: Pending) {
                let entry = EventEntry(nameStart: UInt32(tableBytes + pending.nameStart),
                                       valueStart: UInt32(tableBytes + pending.valueStart),
                                       valueCount: UInt32(pending.valueCount), nameCount: UInt8(pending.nameCount),
                                       kind: pending.kind.rawValue)
                raw.storeBytes(of: entry, toByteOffset: offset, as: EventEntry.self)
                offset += MemoryLayout<EventEntry>.stride
            }
            for pending in attributes { store(pending) }
            for pending in transport { store(pending) }
            scratch.withUnsafeBytes { bytes in
                if bytes.count > 0 { (raw + tableBytes).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            }
        }
        return CloudEvent(storage: storage, data: data)
    }

    public func build(data: UnsafeRawBufferPointer?) -> CloudEvent {
        build(data: data.map { Array($0) })
    }

    // MARK: Helpers

    private mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, kind: AttributeKind) -> Pending {
        let nameStart = scratch.count
        scratch.append(contentsOf: name)
        let valueStart = scratch.count
        scratch.append(contentsOf: value)
        return Pending(nameStart: nameStart, nameCount: name.count, valueStart: valueStart, valueCount: value.count, kind: kind)
    }

    private func checkContextAttribute(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ kind: AttributeKind) throws(CloudEventError) {
        var display: String { String(decoding: name, as: UTF8.self) }  // only built for an error
        let isEncoding = name.count == 19 && bytesEqual(name, AttributeName.datacontentencoding)
        if value.isEmpty && !isEncoding { throw .emptyAttribute(display) }
        if name.count == 15 && bytesEqual(name, AttributeName.datacontenttype) {
            guard AttributeValidation.isMediaType(value) else { throw .invalidAttribute(name: display, reason: "not a media type") }
            return
        }
        if isEncoding {
            guard bytesEqual(value, "base64") else { throw .invalidAttribute(name: display, reason: "only base64 is defined") }
            return
        }
        if let problem = AttributeValidation.problem(with: value, as: kind) {
            throw .invalidAttribute(name: display, reason: problem)
        }
    }
}

extension CloudEvent {
    /// A builder holding this event's attributes and transport headers, to derive a modified
    /// copy (add an extension, drop one). The data is passed again to `build`.
    public func makeBuilder() -> CloudEventBuilder {
        var builder = CloudEventBuilder()
        withView { view in
            builder.specVersion = view.specVersion
            builder.dataIsImpliedJSON = view.dataIsImpliedJSON
            for index in 0..<view.attributeCount {
                builder.appendTrusted(name: view.name(at: index), value: view.value(at: index), kind: view.kind(at: index))
            }
            for index in 0..<view.transportCount {
                builder.addTransportHeader(name: view.transportName(at: index), value: view.transportValue(at: index))
            }
        }
        return builder
    }

    /// A copy with `changes` applied to its attributes; the data is shared, not copied.
    public func modified(_ changes: (inout CloudEventBuilder) -> Void) -> CloudEvent {
        var builder = makeBuilder()
        changes(&builder)
        return builder.build(data: data)
    }
}

extension CloudEventBuilder {
    mutating func appendTrusted(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, kind: AttributeKind) {
        attributes.append(append(name: name, value: value, kind: kind))
    }
}
