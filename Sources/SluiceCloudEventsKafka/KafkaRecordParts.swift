/// One header of a Kafka record as read: name and value bytes, borrowed from the record.
public struct KafkaRecordHeader {
    public var name: UnsafeRawBufferPointer
    public var value: UnsafeRawBufferPointer

    public init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        self.name = name
        self.value = value
    }
}

/// A Kafka record to produce: key, value (nil is a null value) and headers, in order.
public struct KafkaOutgoingRecord: Sendable, Equatable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaOutgoingHeader]

    public init(key: [UInt8]?, value: [UInt8]?, headers: [KafkaOutgoingHeader]) {
        self.key = key
        self.value = value
        self.headers = headers
    }
}

public struct KafkaOutgoingHeader: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// `contentMode` of a KafkaSink: how events become records (Kafka protocol binding §3).
public enum KafkaContentMode: String, Sendable, CaseIterable {
    /// Attributes in `ce_` headers, `content-type` for datacontenttype, data as the value.
    case binary
    /// The JSON event as the value, `content-type: application/cloudevents+json`.
    case structured
}

/// How a record key becomes the `key` extension of a wrapped record: the KafkaSource label
/// `kafkasources.sources.knative.dev/key-type`.
public enum KafkaKeyType: String, Sendable, CaseIterable {
    /// UTF-8 text (the default).
    case string
    /// A big-endian 32-bit integer; other lengths are read as text.
    case int
    /// A big-endian IEEE 754 float of 4 or 8 bytes; other lengths are read as text.
    case float
    /// Base64 of the bytes.
    case byteArray = "byte-array"
}
