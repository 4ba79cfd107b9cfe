/// A request as a handler sees it: views into the connection's read buffer, valid only while
/// the handler runs. It is non-copyable so a handler cannot keep it past that point by accident;
/// whatever must outlive the call (an event to store, say) has to be copied out.
public struct HTTPRequest: ~Copyable {
    public let method: HTTPMethod
    /// Start of the message in the read buffer; every offset in `head` is relative to it.
    let base: UnsafeRawPointer
    let head: HTTPHead
    public let body: UnsafeRawBufferPointer
    public let parameters: RouteParameters

    init(base: UnsafeRawPointer, head: HTTPHead, body: UnsafeRawBufferPointer, parameters: RouteParameters) {
        self.method = head.method
        self.base = base
        self.head = head
        self.body = body
        self.parameters = parameters
    }

    /// The request target as sent ("/ns/broker?x=1").
    public var target: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + head.targetStart, count: head.targetEnd - head.targetStart)
    }

    /// The target up to the query string.
    public var path: UnsafeRawBufferPointer {
        let target = self.target
        guard let question = target.firstIndex(of: 0x3F) else { return target }
        return UnsafeRawBufferPointer(rebasing: target[..<question])
    }

    /// The query string after "?", if any.
    public var query: UnsafeRawBufferPointer? {
        let target = self.target
        guard let question = target.firstIndex(of: 0x3F) else { return nil }
        return UnsafeRawBufferPointer(rebasing: target[(question + 1)...])
    }

    public var pathString: String { String(decoding: path, as: UTF8.self) }
    public var targetString: String { String(decoding: target, as: UTF8.self) }

    /// HTTP/1.x minor version.
    public var minorVersion: Int { head.minorVersion }
    public var keepAlive: Bool { head.keepAlive }
    public var headerCount: Int { head.fields.count }

    /// The value of the first header named `lowercaseName` (compared case-insensitively).
    public func header(_ lowercaseName: StaticString) -> UnsafeRawBufferPointer? {
        for field in head.fields where equalsASCIICaseInsensitive(name(of: field), lowercaseName) {
            return value(of: field)
        }
        return nil
    }

    /// The value of the first header named `name` as a String.
    public func headerString(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            let wanted = UnsafeRawBufferPointer(wanted)
            for field in head.fields where asciiCaseInsensitiveEquals(self.name(of: field), wanted) {
                return String(decoding: value(of: field), as: UTF8.self)
            }
            return nil
        }
    }

    /// Calls `body` with every header name and value, in order.
    public func forEachHeader(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        for field in head.fields {
            try body(name(of: field), value(of: field))
        }
    }

    /// Path parameter `index` of the matched route (":namespace" in "/:namespace/:broker" is 0).
    public func parameter(_ index: Int) -> UnsafeRawBufferPointer {
        parameters.range(index).map { UnsafeRawBufferPointer(start: base + $0.lowerBound, count: $0.count) }
            ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    public func parameterString(_ index: Int) -> String {
        String(decoding: parameter(index), as: UTF8.self)
    }

    @inline(__always)
    func name(of field: HeaderField) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(field.nameStart), count: Int(field.nameEnd - field.nameStart))
    }

    @inline(__always)
    func value(of field: HeaderField) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(field.valueStart), count: Int(field.valueEnd - field.valueStart))
    }
}

/// Up to four path parameters, stored inline as offsets into the message (no allocation).
public struct RouteParameters: Sendable {
    public static let capacity = 4
    private var bounds: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count = 0

    public init() {}

    mutating func append(_ range: Range<Int>) -> Bool {
        guard count < RouteParameters.capacity else { return false }
        withUnsafeMutableBytes(of: &bounds) { raw in
            let slots = raw.bindMemory(to: Int32.self)
            slots[count * 2] = Int32(range.lowerBound)
            slots[count * 2 + 1] = Int32(range.upperBound)
        }
        count += 1
        return true
    }

    func range(_ index: Int) -> Range<Int>? {
        guard index >= 0, index < count else { return nil }
        return withUnsafeBytes(of: bounds) { raw in
            let slots = raw.bindMemory(to: Int32.self)
            return Int(slots[index * 2])..<Int(slots[index * 2 + 1])
        }
    }
}
