import SluiceHTTP
import SluiceIO

/// The CloudEvents HTTP protocol binding: events out of requests and responses (binary,
/// structured and batched modes) and into binary-mode requests.
public enum HTTPBinding {
    public enum Mode: Equatable, Sendable {
        case binary, structured, batched
    }

    /// The content mode a Content-Type announces (http binding §3, batch tested first).
    public static func mode(contentType: UnsafeRawBufferPointer?) throws(CloudEventError) -> Mode {
        guard let contentType else { return .binary }
        if startsWithCaseInsensitive(contentType, "application/cloudevents-batch") {
            guard formatIsJSON(contentType, prefixLength: 29) else { throw .unsupportedFormat(String(decoding: contentType, as: UTF8.self)) }
            return .batched
        }
        if startsWithCaseInsensitive(contentType, "application/cloudevents") {
            guard formatIsJSON(contentType, prefixLength: 23) else { throw .unsupportedFormat(String(decoding: contentType, as: UTF8.self)) }
            return .structured
        }
        return .binary
    }

    /// After the `application/cloudevents[-batch]` prefix, only `+json` (with parameters) is
    /// a format we read.
    private static func formatIsJSON(_ contentType: UnsafeRawBufferPointer, prefixLength: Int) -> Bool {
        let rest = contentType.dropFirst(prefixLength)
        let format = rest.prefix { $0 != 0x3B && $0 != 0x20 }
        return format.count == 5 && format.map(asciiLowercase).elementsEqual("+json".utf8)
    }
}

/// Decodes events from HTTP messages, keeping scratch space between messages. One per loop.
public struct HTTPEventDecoder: @unchecked Sendable {  // `fields` only holds pointers during a call
    public typealias Field = (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    public var builder = CloudEventBuilder()
    private var fields: [Field] = []
    private var name: [UInt8] = []
    private var value: [UInt8] = []
    /// Batches larger than this are refused.
    public var maxBatchEvents = 10_000
    /// Runs on each event's builder just before it is laid out (see `JSONFormat.Prepare`).
    public var prepare: JSONFormat.Prepare?

    public init() {
        fields.reserveCapacity(32)
    }

    /// Decodes the events of a server request. `keepTransportHeader` says which
    /// non-CloudEvents headers travel with the events.
    public mutating func decode(_ request: borrowing HTTPRequest, keepTransportHeader: (UnsafeRawBufferPointer) -> Bool) throws(CloudEventError) -> [CloudEvent] {
        fields.removeAll(keepingCapacity: true)
        request.forEachHeader { name, value in fields.append((name, value)) }
        defer { fields.removeAll(keepingCapacity: true) }
        return try decodeFields(body: request.body, keep: keepTransportHeader)
    }

    /// Decodes a reply event from a subscriber's response, or returns nil when the response
    /// carries no CloudEvent (no ce-specversion and no CloudEvents content type).
    public mutating func decodeReply(_ response: HTTPClientResponse, keepTransportHeader: (UnsafeRawBufferPointer) -> Bool) throws(CloudEventError) -> [CloudEvent]? {
        guard response.header("ce-specversion") != nil
            || response.header("content-type").map({ $0.lowercased().hasPrefix("application/cloudevents") }) == true
        else { return nil }
        return try withBytes(of: response.head) { head throws(CloudEventError) -> [CloudEvent] in
            fields.removeAll(keepingCapacity: true)
            for field in response.fields {
                fields.append((UnsafeRawBufferPointer(rebasing: head[Int(field.nameStart)..<Int(field.nameEnd)]),
                               UnsafeRawBufferPointer(rebasing: head[Int(field.valueStart)..<Int(field.valueEnd)])))
            }
            defer { fields.removeAll(keepingCapacity: true) }
            return try withBytes(of: response.body) { body throws(CloudEventError) in try decodeFields(body: body, keep: keepTransportHeader) }
        }
    }

    private mutating func decodeFields(body: UnsafeRawBufferPointer, keep: (UnsafeRawBufferPointer) -> Bool) throws(CloudEventError) -> [CloudEvent] {
        let contentType = fields.first { $0.name.count == 12 && asciiEqualsLowercase($0.name, "content-type") }?.value
        switch try HTTPBinding.mode(contentType: contentType) {
        case .structured:
            return [attachTransportHeaders(try JSONFormat.decodeEvent(body, builder: &builder, prepare: prepare), keep: keep)]
        case .batched:
            return try JSONFormat.decodeBatch(body, builder: &builder, maxEvents: maxBatchEvents, prepare: prepare)
                .map { attachTransportHeaders($0, keep: keep) }
        case .binary:
            return [try decodeBinary(contentType: contentType, body: body, keep: keep)]
        }
    }

    /// Binary mode: attributes from `ce-` headers (http binding §3.1), data from the body.
    private mutating func decodeBinary(contentType: UnsafeRawBufferPointer?, body: UnsafeRawBufferPointer,
                                       keep: (UnsafeRawBufferPointer) -> Bool) throws(CloudEventError) -> CloudEvent {
        builder.reset()
        // The specversion decides how other attributes are read, so it comes first.
        let versions = fields.filter { $0.name.count == 14 && asciiEqualsLowercase($0.name, "ce-specversion") }
        guard let versionField = versions.first else { throw .notACloudEvent }
        if versions.count > 1 { throw .duplicateAttribute("specversion") }
        let versionText = decodeValue(versionField.value)
        guard let version = versionText.withUnsafeBytes({ SpecVersion(text: $0) }) else {
            throw .unsupportedSpecVersion(String(decoding: versionText, as: UTF8.self))
        }
        builder.specVersion = version

        var sawContentTypeAttribute = false
        for field in fields {
            guard field.name.count > 3, asciiEqualsLowercase(UnsafeRawBufferPointer(rebasing: field.name[..<3]), "ce-") else {
                if keep(field.name) { builder.addTransportHeader(name: field.name, value: field.value) }
                continue
            }
            name.removeAll(keepingCapacity: true)
            for byte in field.name.dropFirst(3) { name.append(asciiLowercase(byte)) }
            if name.elementsEqual("specversion".utf8) { continue }
            if name.elementsEqual("datacontenttype".utf8) {
                // Content-Type carries it in binary mode; when both are sent, Content-Type wins.
                if contentType != nil { continue }
                sawContentTypeAttribute = true
            }
            let decoded = decodeValue(field.value)
            let attributeName = name
            try withBytes(of: attributeName) { nameBytes throws(CloudEventError) in
                try withBytes(of: decoded) { valueBytes throws(CloudEventError) in
                    try builder.add(name: nameBytes, value: valueBytes, kind: .string)
                }
            }
        }
        if let contentType, !sawContentTypeAttribute {
            try builder.add(name: UnsafeRawBufferPointer(start: AttributeName.datacontenttype.utf8Start, count: 15),
                            value: contentType, kind: .string)
        }
        try builder.validateRequired()
        try prepare?(&builder)
        return builder.build(data: body.isEmpty ? nil : Array(body))
    }

    /// A header value as the attribute's bytes: one quoted-string unwrapped (only when the
    /// whole value is one), then one percent-decoding pass.
    private mutating func decodeValue(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        value.removeAll(keepingCapacity: true)
        if raw.count >= 2 && raw.first == 0x22 && raw.last == 0x22 && isSingleQuotedString(raw) {
            var unquoted: [UInt8] = []
            var index = 1
            while index < raw.count - 1 {
                if raw[index] == 0x5C && index + 1 < raw.count - 1 { index += 1 }
                unquoted.append(raw[index])
                index += 1
            }
            unquoted.withUnsafeBytes { PercentCoding.decode($0, into: &value) }
        } else if PercentCoding.isPlain(raw) {
            value.append(contentsOf: raw)
        } else {
            PercentCoding.decode(raw, into: &value)
        }
        return value
    }

    private func isSingleQuotedString(_ raw: UnsafeRawBufferPointer) -> Bool {
        var index = 1
        while index < raw.count - 1 {
            if raw[index] == 0x5C {
                index += 2
                continue
            }
            if raw[index] == 0x22 { return false }
            index += 1
        }
        return index == raw.count - 1
    }

    private func attachTransportHeaders(_ event: CloudEvent, keep: (UnsafeRawBufferPointer) -> Bool) -> CloudEvent {
        let kept = fields.filter { keep($0.name) }
        guard !kept.isEmpty else { return event }
        return event.modified { builder in
            for field in kept { builder.addTransportHeader(name: field.name, value: field.value) }
        }
    }
}

// MARK: Encoding for delivery

extension HTTPBinding {
    /// Appends the binary-mode header lines of `event` ("ce-name: value\r\n" per attribute,
    /// Content-Type for datacontenttype, and the kept transport headers), skipping the
    /// attributes `skip` names. Values are percent-encoded (http binding §3.1.3.2).
    public static func appendBinaryHeaders(of event: CloudEvent, to output: inout [UInt8], skip: (UnsafeRawBufferPointer) -> Bool) {
        event.withView { view in
            var contentTypeWritten = false
            for index in 0..<view.attributeCount {
                let name = view.name(at: index)
                if skip(name) { continue }
                if bytesEqual(name, AttributeName.datacontenttype) {
                    output.append(contentsOf: "Content-Type: ".utf8)
                    output.append(contentsOf: view.value(at: index))
                    output.append(contentsOf: "\r\n".utf8)
                    contentTypeWritten = true
                    continue
                }
                output.append(contentsOf: "ce-".utf8)
                output.append(contentsOf: name)
                output.append(contentsOf: ": ".utf8)
                PercentCoding.encode(view.value(at: index)) { output.append($0) }
                output.append(contentsOf: "\r\n".utf8)
            }
            if !contentTypeWritten && view.dataIsImpliedJSON && event.data != nil {
                output.append(contentsOf: "Content-Type: application/json\r\n".utf8)
            }
            output.append(contentsOf: "ce-specversion: ".utf8)
            output.append(contentsOf: view.specVersion.description.utf8)
            output.append(contentsOf: "\r\n".utf8)
            for index in 0..<view.transportCount {
                output.append(contentsOf: view.transportName(at: index))
                output.append(contentsOf: ": ".utf8)
                output.append(contentsOf: view.transportValue(at: index))
                output.append(contentsOf: "\r\n".utf8)
            }
        }
    }
}

@inline(__always)
func asciiEqualsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    for index in 0..<bytes.count where asciiLowercase(bytes[index]) != lowercase.utf8Start[index] { return false }
    return true
}

@inline(__always)
func startsWithCaseInsensitive(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count >= lowercase.utf8CodeUnitCount else { return false }
    return asciiEqualsLowercase(UnsafeRawBufferPointer(rebasing: bytes[..<lowercase.utf8CodeUnitCount]), lowercase)
}
