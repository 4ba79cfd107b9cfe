import SluiceCloudEvents
import SluiceCloudEventsKafka
import Testing

/// Builds a record's headers from text pairs for the duration of `body`.
private func withHeaders<Result>(_ pairs: [(String, String)], _ body: ([KafkaRecordHeader]) -> Result) -> Result {
    let storage = pairs.map { (Array($0.0.utf8), Array($0.1.utf8)) }
    var pointers: [KafkaRecordHeader] = []
    var buffers: [UnsafeMutableRawBufferPointer] = []
    defer { for buffer in buffers { buffer.deallocate() } }
    for (name, value) in storage {
        let nameBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: name.count, alignment: 1)
        let valueBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
        nameBuffer.copyBytes(from: name)
        valueBuffer.copyBytes(from: value)
        buffers += [nameBuffer, valueBuffer]
        pointers.append(KafkaRecordHeader(name: UnsafeRawBufferPointer(nameBuffer),
                                          value: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(valueBuffer)[0..<value.count])))
    }
    return body(pointers)
}

private func decode(key: String? = nil, rawKey: [UInt8]? = nil, value: String?, headers: [(String, String)], keyType: KafkaKeyType = .string,
                    partition: Int32 = 3, offset: Int64 = 42, timestamp: Int64? = 1_700_000_000_123) -> KafkaEventDecoder.Decoded {
    var decoder = KafkaEventDecoder(keyType: keyType)
    let origin = KafkaEventDecoder.Origin(source: "/apis/v1/namespaces/ns/kafkasources/src#topic", partition: partition, offset: offset,
                                          timestamp: timestamp)
    let keyBytes = rawKey ?? key.map { Array($0.utf8) }
    let valueBytes = value.map { Array($0.utf8) }
    return withHeaders(headers) { headers in
        withOptional(keyBytes) { key in withOptional(valueBytes) { value in decoder.decode(key: key, value: value, headers: headers, origin: origin) } }
    }
}

private func withOptional<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

private func event(_ attributes: [(String, String)], data: String?) throws -> CloudEvent {
    var builder = CloudEventBuilder()
    for (name, value) in attributes { try builder.add(name: name, value: value) }
    return builder.build(data: data.map { Array($0.utf8) })
}

@Suite("CloudEvents Kafka binding")
struct KafkaBindingTests {
    @Test("binary mode: ce_ headers, content-type, the data as the value, partitionkey as the key")
    func encodeBinary() throws {
        let record = KafkaEventEncoder.encode(try event([("id", "1"), ("source", "/s"), ("type", "t"), ("datacontenttype", "application/json"),
                                                         ("partitionkey", "order-9"), ("traceparent", "00-ab")], data: #"{"x":1}"#), mode: .binary)
        #expect(record.key == Array("order-9".utf8))
        #expect(record.value == Array(#"{"x":1}"#.utf8))
        let headers = record.headers.map { "\($0.name)=\(String(decoding: $0.value, as: UTF8.self))" }
        #expect(headers == ["ce_specversion=1.0", "ce_id=1", "ce_source=/s", "ce_type=t", "content-type=application/json",
                            "ce_partitionkey=order-9", "ce_traceparent=00-ab"])
    }

    @Test("binary mode without data is a null value; no partitionkey is no key")
    func encodeNoData() throws {
        let record = KafkaEventEncoder.encode(try event([("id", "1"), ("source", "/s"), ("type", "t")], data: nil), mode: .binary)
        #expect(record.value == nil && record.key == nil)
    }

    @Test("structured mode: the JSON event with its media type")
    func encodeStructured() throws {
        let record = KafkaEventEncoder.encode(try event([("id", "1"), ("source", "/s"), ("type", "t")], data: "hi"), mode: .structured)
        #expect(record.headers == [KafkaOutgoingHeader(name: "content-type", value: Array("application/cloudevents+json".utf8))])
        let text = String(decoding: record.value ?? [], as: UTF8.self)
        #expect(text.contains(#""id":"1""#) && text.contains(#""specversion":"1.0""#))
    }

    @Test("what the encoder writes, the decoder reads back, in both modes")
    func roundTrip() throws {
        let original = try event([("id", "r1"), ("source", "/s"), ("type", "t"), ("datacontenttype", "text/plain"), ("subject", "sub")],
                                 data: "body")
        for mode in KafkaContentMode.allCases {
            let record = KafkaEventEncoder.encode(original, mode: mode)
            let headers = record.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) }
            let decoded = decode(value: record.value.map { String(decoding: $0, as: UTF8.self) }, headers: headers)
            guard case .cloudEvent(let event) = decoded else {
                Issue.record("\(mode): not read as a CloudEvent: \(decoded)")
                continue
            }
            #expect(event.id == "r1" && event.string(AttributeName.subject) == "sub", "\(mode)")
            #expect(event.string(AttributeName.datacontenttype) == "text/plain", "\(mode)")
            #expect(event.data == Array("body".utf8), "\(mode)")
        }
    }

    @Test("binary header names are read case-insensitively; content-type wins over ce_datacontenttype")
    func decodeBinaryCase() {
        let decoded = decode(value: "v", headers: [("CE_SpecVersion", "1.0"), ("ce_ID", "x"), ("ce_source", "/s"), ("ce_type", "t"),
                                                    ("ce_datacontenttype", "text/ignored"), ("Content-Type", "text/plain")])
        guard case .cloudEvent(let event) = decoded else {
            Issue.record("\(decoded)")
            return
        }
        #expect(event.id == "x" && event.string(AttributeName.datacontenttype) == "text/plain")
    }

    @Test("a record that is no CloudEvent is wrapped as Knative's KafkaSource wraps it")
    func wrap() {
        let decoded = decode(key: "k", value: "raw bytes", headers: [("Content-Type", "Text/Plain"), ("X-Trace_ID", "abc")])
        guard case .wrapped(let event, let reason) = decoded else {
            Issue.record("\(decoded)")
            return
        }
        #expect(reason == nil)
        #expect(event.id == "partition:3/offset:42")
        #expect(event.type == "dev.knative.kafka.event")
        #expect(event.source == "/apis/v1/namespaces/ns/kafkasources/src#topic")
        #expect(event.string(AttributeName.subject) == "partition:3#42")
        #expect(event.string(AttributeName.time) == "2023-11-14T22:13:20.123Z")
        #expect(event.string(AttributeName.datacontenttype) == "text/plain")
        #expect(event.string(named: "key") == "k" && event.string(named: "partitionkey") == "k")
        #expect(event.string(named: "kafkaheaderxtraceid") == "abc")
        #expect(event.data == Array("raw bytes".utf8))
    }

    @Test("an invalid CloudEvent is wrapped too, with the reason")
    func invalidIsWrapped() {
        let decoded = decode(value: "v", headers: [("ce_specversion", "1.0"), ("ce_source", "/s"), ("ce_type", "t")])
        guard case .wrapped(let event, let reason?) = decoded else {
            Issue.record("\(decoded)")
            return
        }
        #expect(reason == .missingAttribute("id"))
        #expect(event.type == "dev.knative.kafka.event")
        #expect(event.string(named: "kafkaheadercespecversion") == "1.0")
    }

    @Test("key types: int and float are big-endian numbers, byte-array is base64")
    func keyTypes() {
        func key(_ bytes: [UInt8], _ type: KafkaKeyType) -> String? {
            decode(rawKey: bytes, value: nil, headers: [], keyType: type).event.string(named: "key")
        }
        #expect(key([0, 0, 1, 2], .int) == "258")
        #expect(key([0x3F, 0x80, 0, 0], .float) == "1.0")
        #expect(key(Array("hi".utf8), .byteArray) == "aGk=")
        #expect(key(Array("abc".utf8), .int) == "abc")
    }
}
