/// An AMQP 0-9-1 message as the binding reads it, borrowed from the client library for the
/// length of one decode: the basic properties that carry event data, the headers table and
/// the body.
public struct AMQPMessageParts {
    /// The `content-type` property.
    public var contentType: UnsafeRawBufferPointer?
    /// The `message-id` property.
    public var messageID: UnsafeRawBufferPointer?
    /// The `timestamp` property, seconds since the epoch.
    public var timestamp: Int64?
    public var headers: [AMQPHeader]
    public var body: UnsafeRawBufferPointer

    public init(contentType: UnsafeRawBufferPointer?, messageID: UnsafeRawBufferPointer?, timestamp: Int64?, headers: [AMQPHeader],
                body: UnsafeRawBufferPointer) {
        self.contentType = contentType
        self.messageID = messageID
        self.timestamp = timestamp
        self.headers = headers
        self.body = body
    }
}

/// One entry of the headers table.
public struct AMQPHeader {
    public var name: UnsafeRawBufferPointer
    public var value: AMQPHeaderValue

    public init(name: UnsafeRawBufferPointer, value: AMQPHeaderValue) {
        self.name = name
        self.value = value
    }
}

/// A header value in the AMQP types an attribute can come in (binding §3.1: receivers accept
/// the native type or the canonical string).
public enum AMQPHeaderValue {
    case text(UnsafeRawBufferPointer)
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    /// Seconds since the epoch.
    case timestamp(Int64)
    /// A decimal, table, array or void: not an attribute value.
    case unsupported
}
