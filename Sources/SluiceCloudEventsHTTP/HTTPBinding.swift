import SluiceCloudEvents
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
        let carriesEvent: Bool = response.head.withUnsafeBytes { head in
            for field in response.fields {
                let name = UnsafeRawBufferPointer(rebasing: head[Int(field.nameStart)..<Int(field.nameEnd)])
                if name.count == 14 && asciiEqualsLowercase(name, "ce-specversion") { return true }
                if name.count == 12 && asciiEqualsLowercase(name, "content-type") {
                    let value = UnsafeRawBufferPointer(rebasing: head[Int(field.valueStart)..<Int(field.valueEnd)])
                    if startsWithCaseInsensitive(value, "application/cloudevents") { return true }
                }
            }
            return false
        }
        guard carriesEvent else { return nil }
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
        var versionField: Field?
        for field in fields where field.name.count == 14 && asciiEqualsLowercase(field.name, "ce-specversion") {
            if versionField != nil { throw .duplicateAttribute("specversion") }
            versionField = field
        }
        guard let versionField else { throw .notACloudEvent }
        let versionText = Array(decodeValue(versionField.value))
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
            let nameCount = field.name.count - 3
            name.removeAll(keepingCapacity: true)
            name.append(contentsOf: repeatElement(0, count: nameCount))
            name.withUnsafeMutableBufferPointer { lowered in
                for offset in 0..<nameCount { lowered[offset] = asciiLowercase(field.name[offset + 3]) }
            }
            let isContentType: Bool = name.withUnsafeBytes { nameBytes in
                bytesEqual(nameBytes, AttributeName.datacontenttype)
            }
            if name.count == 11, name.withUnsafeBytes({ bytesEqual($0, AttributeName.specversion) }) { continue }
            if isContentType {
                // Content-Type carries it in binary mode; when both are sent, Content-Type wins.
                if contentType != nil { continue }
                sawContentTypeAttribute = true
            }
            decodeValue(field.value)
            try addDecodedAttribute()
        }
        if let contentType, !sawContentTypeAttribute {
            try builder.add(name: UnsafeRawBufferPointer(start: AttributeName.datacontenttype.utf8Start, count: 15),
                            value: contentType, kind: .string)
        }
        try builder.validateRequired()
        try prepare?(&builder)
        return builder.build(data: body.isEmpty ? nil : Array(body))
    }

    /// Adds the attribute held in `name` and `value` (the scratch arrays) to the builder.
    private mutating func addDecodedAttribute() throws(CloudEventError) {
        let outcome: Result<Void, CloudEventError> = name.withUnsafeBytes { nameBytes in
            value.withUnsafeBytes { valueBytes in
                Result { () throws(CloudEventError) in try builder.add(name: nameBytes, value: valueBytes, kind: .string) }
            }
        }
        try outcome.get()
    }

    /// A header value as the attribute's bytes, left in `value`: one quoted-string unwrapped
    /// (only when the whole value is one), then one percent-decoding pass.
    @discardableResult
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
    /// Writes the binary-mode header lines of `event` into `buffer`: "ce-name: value\r\n" per
    /// attribute, Content-Type for datacontenttype, then the kept transport headers, skipping
    /// the attributes `skip` names. Values are percent-encoded (http binding §3.1.3.2); values
    /// that need no escaping (nearly all) are copied whole.
    public static func writeBinaryHeaders(of event: CloudEvent, into buffer: ByteBuffer, skip: (UnsafeRawBufferPointer) -> Bool) {
        event.withView { view in
            var contentTypeWritten = false
            for index in 0..<view.attributeCount {
                let name = view.name(at: index)
                if skip(name) { continue }
                let value = view.value(at: index)
                if bytesEqual(name, AttributeName.datacontenttype) {
                    buffer.append("Content-Type: ")
                    buffer.append(value)
                    buffer.append("\r\n")
                    contentTypeWritten = true
                    continue
                }
                buffer.append("ce-")
                buffer.append(name)
                buffer.append(": ")
                if PercentCoding.isSafe(value) {
                    buffer.append(value)
                } else {
                    PercentCoding.encode(value) { buffer.append(byte: $0) }
                }
                buffer.append("\r\n")
            }
            if !contentTypeWritten && view.dataIsImpliedJSON && event.data != nil {
                buffer.append("Content-Type: application/json\r\n")
            }
            if view.specVersion == .v1_0 { buffer.append("ce-specversion: 1.0\r\n") } else { buffer.append("ce-specversion: 0.3\r\n") }
            writeTransportHeaders(of: view, into: buffer)
        }
    }

    /// Writes the transport headers that travel with `event` (traceparent, knative-*, ...)
    /// as header lines: what structured mode sends beside the JSON body.
    public static func writeTransportHeaders(of event: CloudEvent, into buffer: ByteBuffer) {
        event.withView { writeTransportHeaders(of: $0, into: buffer) }
    }

    private static func writeTransportHeaders(of view: EventView, into buffer: ByteBuffer) {
        for index in 0..<view.transportCount {
            buffer.append(view.transportName(at: index))
            buffer.append(": ")
            buffer.append(view.transportValue(at: index))
            buffer.append("\r\n")
        }
    }

    /// The same lines as bytes (tests and cold paths).
    public static func appendBinaryHeaders(of event: CloudEvent, to output: inout [UInt8], skip: (UnsafeRawBufferPointer) -> Bool) {
        let buffer = ByteBuffer(capacity: 512)
        writeBinaryHeaders(of: event, into: buffer, skip: skip)
        output.append(contentsOf: buffer.readableBytes)
    }
}
