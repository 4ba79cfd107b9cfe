import SluiceCloudEvents

/// RabbitMQ messages into events. Three conventions are read:
///
/// - **structured**: the `content-type` property starts with `application/cloudevents`, and
///   the body is the JSON event;
/// - **the AMQP binding** (1.0.2 and the newer draft): attributes in headers named
///   `cloudEvents:<name>` or `cloudEvents_<name>` (any case), the `content-type` property as
///   datacontenttype; other headers are the application's and are left out;
/// - **Knative's RabbitMQ convention**: attribute names as headers, bare or with `ce-`, a
///   `content-type` header when there is no property; `x-*` headers, `traceparent` and
///   `tracestate` are RabbitMQ's or the trace's and are left out, and so are names that cannot
///   be attributes.
///
/// A binary event without `source` gets the source's own, as Knative's adapter does. Any other
/// message, and one whose CloudEvent is invalid, is wrapped as Knative wraps it:
///
/// | attribute | value |
/// |---|---|
/// | id, subject | the `message-id` property, else a random UUID |
/// | type | `dev.knative.rabbitmq.event` |
/// | source | given (`/apis/v1/namespaces/<ns>/rabbitmqsources/<name>#<queue>`) |
/// | time | the `timestamp` property |
/// | datacontenttype | the `content-type` property |
///
/// with the body byte for byte as data. One decoder per thread; it reuses its scratch space.
public struct AMQPEventDecoder {
    public typealias Decoded = DecodedMessage

    private enum Convention {
        case binding
        case knative
    }

    public static let wrappedType = "dev.knative.rabbitmq.event"

    /// The source of wrapped events, and of binary ones that name none.
    public let source: String
    private var builder = CloudEventBuilder()
    private var name: [UInt8] = []
    private var ids = UUIDGenerator()

    public init(source: String) {
        self.source = source
    }

    public mutating func decode(_ message: AMQPMessageParts) -> Decoded {
        var message = message
        if message.contentType?.isEmpty == true { message.contentType = nil }
        do throws(CloudEventError) {
            if let contentType = message.contentType, startsWithCaseInsensitive(contentType, "application/cloudevents") {
                builder.reset()
                return .cloudEvent(try JSONFormat.decodeEvent(message.body, builder: &builder, prepare: nil))
            }
            if let (convention, version) = convention(message.headers) {
                return .cloudEvent(try decodeBinary(message, convention, version: version))
            }
        } catch {
            return .wrapped(wrap(message), reason: error)
        }
        return .wrapped(wrap(message), reason: nil)
    }

    /// The convention the headers follow and their specversion header, if it is an event.
    private func convention(_ headers: [AMQPHeader]) -> (Convention, AMQPHeaderValue)? {
        var found: (Convention, AMQPHeaderValue)?
        for header in headers {
            if asciiEqualsLowercase(header.name, "cloudevents:specversion") || asciiEqualsLowercase(header.name, "cloudevents_specversion") {
                return (.binding, header.value)
            }
            if asciiEqualsLowercase(header.name, "specversion") || asciiEqualsLowercase(header.name, "ce-specversion") {
                found = (.knative, header.value)
            }
        }
        return found
    }

    /// The attribute name a header carries under `convention` (lower-cased into `name`), or
    /// false when the header is not an attribute.
    private mutating func attributeName(of header: UnsafeRawBufferPointer, _ convention: Convention) -> Bool {
        var start = 0
        switch convention {
        case .binding:
            guard startsWithCaseInsensitive(header, "cloudevents:") || startsWithCaseInsensitive(header, "cloudevents_") else { return false }
            start = 12
        case .knative:
            if startsWithCaseInsensitive(header, "x-") || asciiEqualsLowercase(header, "traceparent")
                || asciiEqualsLowercase(header, "tracestate") {
                return false
            }
            if startsWithCaseInsensitive(header, "ce-") { start = 3 }
        }
        name.removeAll(keepingCapacity: true)
        for index in start..<header.count { name.append(asciiLowercase(header[index])) }
        if convention == .knative && name.withUnsafeBytes({ bytesEqual($0, "content-type") }) {
            name.removeAll(keepingCapacity: true)
            name.append(contentsOf: AttributeName.datacontenttype.utf8Buffer)
        }
        return true
    }

    private mutating func decodeBinary(_ message: AMQPMessageParts, _ convention: Convention,
                                       version: AMQPHeaderValue) throws(CloudEventError) -> CloudEvent {
        builder.reset()
        let versionText = Self.text(of: version)
        guard let specVersion = SpecVersion(text: versionText.utf8) else {
            throw .unsupportedSpecVersion(versionText)
        }
        builder.specVersion = specVersion
        for header in message.headers where attributeName(of: header.name, convention) {
            if name.withUnsafeBytes({ bytesEqual($0, AttributeName.specversion) }) { continue }
            if message.contentType != nil && name.withUnsafeBytes({ bytesEqual($0, AttributeName.datacontenttype) }) { continue }
            // In Knative's convention any header may sit beside the attributes: one whose name
            // cannot be an attribute is the application's, not an error.
            if convention == .knative && !name.withUnsafeBytes({ AttributeValidation.isValidName($0) }) { continue }
            let result: Result<Void, CloudEventError> = name.withUnsafeBytes { nameBytes in
                Self.withText(of: header.value) { value in
                    Result { () throws(CloudEventError) in try builder.add(name: nameBytes, value: value, kind: .string) }
                }
            }
            try result.get()
        }
        if let contentType = message.contentType {
            try builder.add(name: AttributeName.datacontenttype.utf8Buffer, value: contentType, kind: .string)
        }
        if !builder.contains(AttributeName.source.utf8Buffer) {
            builder.set(trusted: AttributeName.source, value: source, kind: .uriReference)
        }
        try builder.validateRequired()
        return builder.build(data: message.body.isEmpty ? nil : message.body)
    }

    /// A message that is no CloudEvent, as Knative's RabbitmqSource wraps it.
    private mutating func wrap(_ message: AMQPMessageParts) -> CloudEvent {
        builder.reset()
        let id: String
        if let messageID = message.messageID, !messageID.isEmpty, AttributeValidation.problem(with: messageID, as: .string) == nil {
            id = String(decoding: messageID, as: UTF8.self)
        } else {
            id = ids.next()
        }
        builder.set(trusted: AttributeName.id, value: id, kind: .string)
        builder.set(trusted: AttributeName.source, value: source, kind: .uriReference)
        builder.set(trusted: AttributeName.type, value: Self.wrappedType, kind: .string)
        builder.set(trusted: AttributeName.subject, value: id, kind: .string)
        if let seconds = message.timestamp, seconds >= 0, seconds < 253_402_300_800 {
            builder.set(trusted: AttributeName.time, value: Generated.rfc3339(milliseconds: seconds * 1000), kind: .timestamp)
        }
        if let contentType = message.contentType, !contentType.isEmpty, AttributeValidation.problem(with: contentType, as: .string) == nil {
            builder.set(trusted: AttributeName.datacontenttype, value: contentType, kind: .string)
        }
        return builder.build(data: message.body.isEmpty ? nil : message.body)
    }

    /// A header value as attribute text: native AMQP types in their canonical string form.
    private static func text(of value: AMQPHeaderValue) -> String {
        withText(of: value) { String(decoding: $0, as: UTF8.self) }
    }

    private static func withText<Result>(of value: AMQPHeaderValue, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var text: String
        switch value {
        case .text(let bytes): return body(bytes)
        case .boolean(let flag): text = flag ? "true" : "false"
        case .integer(let number): text = String(number)
        case .float(let number): text = String(number)
        case .timestamp(let seconds): text = Generated.rfc3339(milliseconds: seconds &* 1000)
        case .unsupported: text = ""
        }
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

extension StaticString {
    var utf8Buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
