import SluiceCloudEvents

/// Kafka records into events (Kafka protocol binding 1.0, and Knative's KafkaSource for the
/// rest). A record with `content-type: application/cloudevents...` is a structured event; one
/// with a `ce_specversion` header a binary one. Any other record, and one whose CloudEvent is
/// invalid, is wrapped as Knative's `InvalidCloudEventInterceptor` does:
///
/// | attribute | value |
/// |---|---|
/// | type | `dev.knative.kafka.event` |
/// | source | given (`/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>`) |
/// | id | `partition:<p>/offset:<o>` |
/// | subject | `partition:<p>#<o>` |
/// | time | the record timestamp, UTC |
/// | datacontenttype | the `content-type` header, lower-cased |
/// | key, partitionkey | the record key, per the key type |
/// | kafkaheader<name> | each other header: name lower-cased, only `[a-z0-9]` kept |
///
/// and the value byte for byte as data. One decoder per thread; it reuses its scratch space.
public struct KafkaEventDecoder {
    /// Where the record came from: what a wrapped event is built from.
    public struct Origin {
        public var source: String
        public var partition: Int32
        public var offset: Int64
        /// Milliseconds since the epoch; nil when the record has none.
        public var timestamp: Int64?

        public init(source: String, partition: Int32, offset: Int64, timestamp: Int64?) {
            self.source = source
            self.partition = partition
            self.offset = offset
            self.timestamp = timestamp
        }
    }

    public typealias Decoded = DecodedMessage

    private var builder = CloudEventBuilder()
    private var name: [UInt8] = []
    public var keyType: KafkaKeyType = .string
    /// Runs on every event's attributes before it is built (a source's `ceOverrides`).
    public var prepare: JSONFormat.Prepare?

    public init(keyType: KafkaKeyType = .string, prepare: JSONFormat.Prepare? = nil) {
        self.keyType = keyType
        self.prepare = prepare
    }

    public mutating func decode(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [KafkaRecordHeader],
                                origin: Origin) -> Decoded {
        let contentType = headers.last { asciiEqualsLowercase($0.name, "content-type") }?.value
        do throws(CloudEventError) {
            if let contentType, hasPrefixIgnoringCase(contentType, "application/cloudevents") {
                builder.reset()
                return .cloudEvent(try JSONFormat.decodeEvent(value ?? UnsafeRawBufferPointer(start: nil, count: 0),
                                                              builder: &builder, prepare: prepare))
            }
            if headers.contains(where: { asciiEqualsLowercase($0.name, "ce_specversion") }) {
                return .cloudEvent(try decodeBinary(value: value, headers: headers, contentType: contentType))
            }
        } catch {
            return .wrapped(wrap(key: key, value: value, headers: headers, contentType: contentType, origin: origin), reason: error)
        }
        return .wrapped(wrap(key: key, value: value, headers: headers, contentType: contentType, origin: origin), reason: nil)
    }

    /// Binary mode: `ce_` headers (any case) are attributes, `content-type` is datacontenttype.
    private mutating func decodeBinary(value: UnsafeRawBufferPointer?, headers: [KafkaRecordHeader],
                                       contentType: UnsafeRawBufferPointer?) throws(CloudEventError) -> CloudEvent {
        builder.reset()
        guard let version = headers.last(where: { asciiEqualsLowercase($0.name, "ce_specversion") }) else { throw .notACloudEvent }
        guard let specVersion = SpecVersion(text: version.value) else {
            throw .unsupportedSpecVersion(String(decoding: version.value, as: UTF8.self))
        }
        builder.specVersion = specVersion
        for header in headers where header.name.count > 3 && hasPrefixIgnoringCase(header.name, "ce_") {
            let nameCount = header.name.count - 3
            name.removeAll(keepingCapacity: true)
            for offset in 0..<nameCount { name.append(asciiLowercase(header.name[offset + 3])) }
            if name.withUnsafeBytes({ bytesEqual($0, AttributeName.specversion) }) { continue }
            if contentType != nil && name.withUnsafeBytes({ bytesEqual($0, AttributeName.datacontenttype) }) { continue }
            let result: Result<Void, CloudEventError> = name.withUnsafeBytes { nameBytes in
                Result { () throws(CloudEventError) in try builder.add(name: nameBytes, value: header.value, kind: .string) }
            }
            try result.get()
        }
        if let contentType {
            try builder.add(name: bytes(AttributeName.datacontenttype), value: contentType, kind: .string)
        }
        try builder.validateRequired()
        try prepare?(&builder)
        return builder.build(data: value)
    }

    /// A record that is no CloudEvent, as Knative's KafkaSource wraps it.
    private mutating func wrap(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [KafkaRecordHeader],
                               contentType: UnsafeRawBufferPointer?, origin: Origin) -> CloudEvent {
        builder.reset()
        builder.set(trusted: AttributeName.id, value: "partition:\(origin.partition)/offset:\(origin.offset)", kind: .string)
        builder.set(trusted: AttributeName.source, value: origin.source, kind: .uriReference)
        builder.set(trusted: AttributeName.type, value: "dev.knative.kafka.event", kind: .string)
        builder.set(trusted: AttributeName.subject, value: "partition:\(origin.partition)#\(origin.offset)", kind: .string)
        if let timestamp = origin.timestamp, timestamp >= 0 {
            builder.set(trusted: AttributeName.time, value: Generated.rfc3339(milliseconds: timestamp), kind: .timestamp)
        }
        if let contentType {
            let lowered = contentType.map(asciiLowercase)
            if lowered.withUnsafeBytes({ AttributeValidation.problem(with: $0, as: .string) }) == nil {
                lowered.withUnsafeBytes { builder.set(trusted: AttributeName.datacontenttype, value: $0, kind: .string) }
            }
        }
        if let key, let text = keyText(key) {
            builder.set(trusted: KafkaBindingNames.key, value: text, kind: .string)
            builder.set(trusted: KafkaBindingNames.partitionkey, value: text, kind: .string)
        }
        for header in headers where !asciiEqualsLowercase(header.name, "content-type") {
            name.removeAll(keepingCapacity: true)
            name.append(contentsOf: "kafkaheader".utf8)
            for byte in header.name {
                let lower = asciiLowercase(byte)
                if (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) { name.append(lower) }
            }
            // A header whose value is not a valid string attribute is left out rather than
            // failing the record; so is a repeated one.
            _ = name.withUnsafeBytes { nameBytes in try? builder.add(name: nameBytes, value: header.value, kind: .string) }
        }
        if let prepare {
            // The overrides were checked when the source was configured; one that still fails
            // leaves the wrapped event as it is.
            var attempt = builder
            if (try? prepare(&attempt)) != nil { builder = attempt }
        }
        return builder.build(data: value)
    }

    /// The record key as the `key` extension's text, per the source's key type; nil when it
    /// cannot be one (invalid UTF-8 in a string key).
    private func keyText(_ key: UnsafeRawBufferPointer) -> String? {
        switch keyType {
        case .int where key.count == 4:
            return String(Int32(bitPattern: UInt32(truncatingIfNeeded: bigEndian(key))))
        case .float where key.count == 4:
            return String(Float(bitPattern: UInt32(truncatingIfNeeded: bigEndian(key))))
        case .float where key.count == 8:
            return String(Double(bitPattern: bigEndian(key)))
        case .byteArray:
            return Base64.encode(key)
        default:
            guard AttributeValidation.problem(with: key, as: .string) == nil else { return nil }
            return String(decoding: key, as: UTF8.self)
        }
    }

    private func bigEndian(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

private func bytes(_ name: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
}

private func hasPrefixIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
    guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
    return asciiEqualsLowercase(UnsafeRawBufferPointer(rebasing: bytes[..<prefix.utf8CodeUnitCount]), prefix)
}
