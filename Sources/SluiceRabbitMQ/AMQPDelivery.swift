internal import CRabbitMQ

/// One message as `basic.deliver` brought it, borrowed from librabbitmq: valid only during the
/// `AMQPConnection.nextDelivery` call that hands it over (copy what must outlive it).
public struct AMQPDelivery {
    private let envelope: UnsafeMutablePointer<amqp_envelope_t>

    init(envelope: UnsafeMutablePointer<amqp_envelope_t>) {
        self.envelope = envelope
    }

    /// The channel's number for the message, to ack or nack it on the same connection.
    public var deliveryTag: UInt64 { envelope.pointee.delivery_tag }
    /// The server delivered it before (to this consumer or another) without an ack.
    public var redelivered: Bool { envelope.pointee.redelivered != 0 }
    public var exchange: UnsafeRawBufferPointer { buffer(envelope.pointee.exchange) }
    public var routingKey: UnsafeRawBufferPointer { buffer(envelope.pointee.routing_key) }
    public var body: UnsafeRawBufferPointer { buffer(envelope.pointee.message.body) }

    /// The `content-type` property, when set.
    public var contentType: UnsafeRawBufferPointer? { property(AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type) }
    /// The `message-id` property, when set.
    public var messageID: UnsafeRawBufferPointer? { property(AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id) }
    /// The `timestamp` property (seconds since the epoch), when set.
    public var timestamp: UInt64? {
        let properties = envelope.pointee.message.properties
        return properties._flags & amqp_flags_t(AMQP_BASIC_TIMESTAMP_FLAG) != 0 ? properties.timestamp : nil
    }

    /// Calls `body` with each entry of the `headers` table, in order.
    public func forEachHeader(_ body: (_ name: UnsafeRawBufferPointer, _ value: AMQPFieldValue) -> Void) {
        let properties = envelope.pointee.message.properties
        guard properties._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let entries = properties.headers.entries else { return }
        for index in 0..<Int(properties.headers.num_entries) {
            let entry = entries[index]
            body(buffer(entry.key), AMQPFieldValue(entry.value))
        }
    }

    private func property(_ flag: Int32, _ field: KeyPath<amqp_basic_properties_t, amqp_bytes_t>) -> UnsafeRawBufferPointer? {
        let properties = envelope.pointee.message.properties
        return properties._flags & amqp_flags_t(flag) != 0 ? buffer(properties[keyPath: field]) : nil
    }
}

/// A header value of an AMQP 0-9-1 field table, as far as events can use it. Byte strings are
/// borrowed like the delivery they come from.
public enum AMQPFieldValue {
    case bytes(UnsafeRawBufferPointer)
    case boolean(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case float(Double)
    /// Seconds since the epoch.
    case timestamp(UInt64)
    /// A decimal, a nested table or array, or void: nothing an attribute can hold.
    case other

    init(_ value: amqp_field_value_t) {
        switch Int32(value.kind) {
        case Int32(UInt8(ascii: "S")), Int32(UInt8(ascii: "x")): self = .bytes(buffer(value.value.bytes))
        case Int32(UInt8(ascii: "t")): self = .boolean(value.value.boolean != 0)
        case Int32(UInt8(ascii: "b")): self = .integer(Int64(value.value.i8))
        case Int32(UInt8(ascii: "B")): self = .integer(Int64(value.value.u8))
        case Int32(UInt8(ascii: "s")): self = .integer(Int64(value.value.i16))
        case Int32(UInt8(ascii: "u")): self = .integer(Int64(value.value.u16))
        case Int32(UInt8(ascii: "I")): self = .integer(Int64(value.value.i32))
        case Int32(UInt8(ascii: "i")): self = .integer(Int64(value.value.u32))
        case Int32(UInt8(ascii: "l")): self = .integer(value.value.i64)
        case Int32(UInt8(ascii: "L")): self = .unsigned(value.value.u64)
        case Int32(UInt8(ascii: "f")): self = .float(Double(value.value.f32))
        case Int32(UInt8(ascii: "d")): self = .float(value.value.f64)
        case Int32(UInt8(ascii: "T")): self = .timestamp(value.value.u64)
        default: self = .other
        }
    }
}

private func buffer(_ bytes: amqp_bytes_t) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: bytes.bytes, count: bytes.bytes == nil ? 0 : bytes.len)
}
