import SluiceCloudEvents

/// A trigger filter compiled once at config load and evaluated once per event, on the event's
/// bytes. Semantics follow Knative: `filter.attributes` is exact match with "" meaning "present
/// with any value"; the `filters` dialects (exact, prefix, suffix, all, any, not, cesql) are
/// ANDed; a missing attribute fails exact/prefix/suffix.
public indirect enum Filter: Sendable {
    /// Matches every event (no filter).
    case always
    case exact(AttributeReference, [UInt8])
    /// The attribute exists, with any value (`filter.attributes` with "").
    case present(AttributeReference)
    case prefix(AttributeReference, [UInt8])
    case suffix(AttributeReference, [UInt8])
    case all([Filter])
    case any([Filter])
    case not(Filter)
    case expression(any EventPredicate)

    /// Whether `event` passes.
    public func matches(_ event: EventView) -> Bool {
        switch self {
        case .always:
            return true
        case .exact(let attribute, let expected):
            return attribute.withValue(in: event) { value in value.map { bytesEqual($0, expected) } ?? false }
        case .present(let attribute):
            return attribute.withValue(in: event) { value in value.map { !$0.isEmpty } ?? false }
        case .prefix(let attribute, let expected):
            return attribute.withValue(in: event) { value in
                guard let value, value.count >= expected.count else { return false }
                return bytesEqual(UnsafeRawBufferPointer(rebasing: value[..<expected.count]), expected)
            }
        case .suffix(let attribute, let expected):
            return attribute.withValue(in: event) { value in
                guard let value, value.count >= expected.count else { return false }
                return bytesEqual(UnsafeRawBufferPointer(rebasing: value[(value.count - expected.count)...]), expected)
            }
        case .all(let filters):
            for filter in filters where !filter.matches(event) { return false }
            return true
        case .any(let filters):
            for filter in filters where filter.matches(event) { return true }
            return filters.isEmpty
        case .not(let filter):
            return !filter.matches(event)
        case .expression(let predicate):
            return predicate.matches(event)
        }
    }
}

/// A filter evaluated by other code (CESQL): compiled once, then asked per event.
public protocol EventPredicate: Sendable {
    func matches(_ event: EventView) -> Bool
}

/// An attribute named in a filter, resolved once: `specversion` is not in the event's
/// attribute table, so it is answered from the event's version.
public struct AttributeReference: Sendable, Hashable {
    public let name: [UInt8]
    let isSpecVersion: Bool

    public init(_ name: String) {
        self.name = Array(name.utf8)
        isSpecVersion = name == "specversion"
    }

    public var description: String { String(decoding: name, as: UTF8.self) }

    @inline(__always)
    public func withValue<Result>(in event: EventView, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        if isSpecVersion {
            let text: StaticString = event.specVersion == .v1_0 ? "1.0" : "0.3"
            return body(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        return name.withUnsafeBytes { body(event.value(ofBytes: $0)) }
    }
}

@inline(__always)
func bytesEqual(_ value: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Bool {
    expected.withUnsafeBytes { SluiceCloudEvents.bytesEqual(value, $0) }
}
