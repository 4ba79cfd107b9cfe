import SluiceCloudEvents
import SluiceCloudEventsAMQP
import SluiceCloudEventsKafka

/// libFuzzer entry: the input as a broker message, decoded by both message bindings (the
/// Kafka record decoder and the AMQP message decoder) as a source would.
///
/// Layout: the first byte picks flags (bit 0: a content type, bit 1: a message id or key,
/// bit 2: a timestamp; bits 4-5: the Kafka key type); the rest is split on 0x00 into fields:
/// the body, then the content type / id when flagged, then name, value pairs of headers. A
/// header value starting with 0x01 is an AMQP integer (the next 8 bytes), 0x02 a boolean,
/// 0x03 a timestamp; otherwise text. Whatever the input, decoding must return an event whose
/// data is the body (wrapped or not), and never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let flags = data[0]
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var fields: [UnsafeRawBufferPointer] = []
    var start = 0
    for index in 0...input.count where index == input.count || input[index] == 0 {
        fields.append(UnsafeRawBufferPointer(rebasing: input[start..<index]))
        start = index + 1
    }
    var cursor = 0
    func take() -> UnsafeRawBufferPointer? {
        guard cursor < fields.count else { return nil }
        defer { cursor += 1 }
        return fields[cursor]
    }
    let body = take() ?? UnsafeRawBufferPointer(start: nil, count: 0)
    let contentType = flags & 1 != 0 ? take() : nil
    let identifier = flags & 2 != 0 ? take() : nil
    let timestamp: Int64? = flags & 4 != 0 ? Int64(flags) * 123_456_789 - 1_000_000_000 : nil
    var amqpHeaders: [AMQPHeader] = []
    var kafkaHeaders: [KafkaRecordHeader] = []
    while let name = take(), let value = take() {
        kafkaHeaders.append(KafkaRecordHeader(name: name, value: value))
        let converted: AMQPHeaderValue
        switch value.first {
        case 1: converted = .integer(value.dropFirst().prefix(8).reduce(0) { $0 << 8 | Int64($1) })
        case 2: converted = .boolean(value.count > 1 && value[1] != 0)
        case 3: converted = .timestamp(value.dropFirst().prefix(8).reduce(0) { $0 << 8 | Int64($1) })
        default: converted = .text(value)
        }
        amqpHeaders.append(AMQPHeader(name: name, value: converted))
    }
    if let contentType { kafkaHeaders.append(KafkaRecordHeader(name: UnsafeRawBufferPointer(start: nil, count: 0), value: contentType)) }

    var amqp = AMQPEventDecoder(source: "/apis/v1/namespaces/ns/rabbitmqsources/fuzz#q")
    let message = AMQPMessageParts(contentType: contentType, messageID: identifier, timestamp: timestamp.map { $0 / 1000 },
                                   headers: amqpHeaders, body: body)
    check(amqp.decode(message), body: body)

    let keyType = KafkaKeyType.allCases[Int(flags >> 4) % KafkaKeyType.allCases.count]
    var kafka = KafkaEventDecoder(keyType: keyType)
    let origin = KafkaEventDecoder.Origin(source: "/apis/v1/namespaces/ns/kafkasources/fuzz#t", partition: Int32(flags), offset: Int64(size),
                                          timestamp: timestamp)
    check(kafka.decode(key: identifier, value: body.isEmpty ? nil : body, headers: kafkaHeaders, origin: origin), body: body)
    return 0
}

/// A wrapped message keeps its body byte for byte; every event has the required attributes.
private func check(_ decoded: DecodedMessage, body: UnsafeRawBufferPointer) {
    let event = decoded.event
    precondition(!event.id.isEmpty && !event.source.isEmpty && !event.type.isEmpty, "an event without a required attribute")
    if case .wrapped = decoded {
        precondition((event.data ?? []) == Array(body), "a wrapped body changed")
    }
}
