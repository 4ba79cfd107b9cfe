import SluiceCloudEvents
import SluiceCloudEventsAMQP
import Testing

/// A header value for the tests; text is kept alive by `withMessage`.
private enum Value {
    case text(String)
    case integer(Int64)
    case boolean(Bool)
    case timestamp(Int64)
    case table
}

/// Decodes a message made of `headers`, properties and `body`.
private func decode(_ headers: [(String, Value)], body: String = "payload", contentType: String? = nil, messageID: String? = nil,
                    timestamp: Int64? = nil) -> AMQPEventDecoder.Decoded {
    var decoder = AMQPEventDecoder(source: "/apis/v1/namespaces/ns/rabbitmqsources/src#q")
    let texts = headers.map { (Array($0.0.utf8), { if case .text(let text) = $0.1 { return Array(text.utf8) } else { return [] } }($0)) }
    let extras = [body, contentType ?? "", messageID ?? ""].map { Array($0.utf8) }
    // One buffer holding every byte string, so the borrowed views stay valid during the call.
    let all = texts.flatMap { $0.0 + $0.1 } + extras.flatMap { $0 }
    return all.withUnsafeBytes { buffer in
        var offset = 0
        func next(_ count: Int) -> UnsafeRawBufferPointer {
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count])
        }
        var parts: [AMQPHeader] = []
        for (index, (_, value)) in headers.enumerated() {
            let name = next(texts[index].0.count)
            let text = next(texts[index].1.count)
            let converted: AMQPHeaderValue = switch value {
            case .text: .text(text)
            case .integer(let number): .integer(number)
            case .boolean(let flag): .boolean(flag)
            case .timestamp(let seconds): .timestamp(seconds)
            case .table: .unsupported
            }
            parts.append(AMQPHeader(name: name, value: converted))
        }
        let bodyBytes = next(extras[0].count)
        let type = next(extras[1].count)
        let id = next(extras[2].count)
        return decoder.decode(AMQPMessageParts(contentType: contentType == nil ? nil : type, messageID: messageID == nil ? nil : id,
                                               timestamp: timestamp, headers: parts, body: bodyBytes))
    }
}

private func attributes(_ decoded: AMQPEventDecoder.Decoded) -> [String: String] {
    Dictionary(decoded.event.attributes.map { ($0.name, $0.value) }) { first, _ in first }
}

private func isEvent(_ decoded: AMQPEventDecoder.Decoded) -> Bool {
    if case .cloudEvent = decoded { return true }
    return false
}

@Suite("AMQP binding")
struct AMQPBindingTests {
    @Test("binary mode in both binding prefixes, any case; other headers stay out")
    func bindingPrefixes() {
        for prefix in ["cloudEvents:", "cloudEvents_", "CLOUDEVENTS_"] {
            let decoded = decode([(prefix + "specversion", .text("1.0")), (prefix + "type", .text("t")), (prefix + "source", .text("/s")),
                                  (prefix + "id", .text("1")), (prefix + "count", .integer(7)), (prefix + "flag", .boolean(true)),
                                  (prefix + "time", .timestamp(1_700_000_000)), ("app-header", .text("x")), ("x-death", .table)],
                                 contentType: "application/json")
            #expect(isEvent(decoded))
            #expect(attributes(decoded) == ["specversion": "1.0", "type": "t", "source": "/s", "id": "1", "count": "7", "flag": "true",
                                            "time": "2023-11-14T22:13:20.000Z", "datacontenttype": "application/json"], "\(prefix)")
            #expect(decoded.event.data == Array("payload".utf8))
        }
    }

    @Test("Knative's convention: bare or ce- names, a content-type header, no x-* or trace headers, source defaulted")
    func knativeConvention() {
        let decoded = decode([("specversion", .text("1.0")), ("ce-type", .text("t")), ("id", .text("1")), ("content-type", .text("text/plain")),
                              ("x-first-death-queue", .text("q")), ("traceparent", .text("00-aa-bb-01")), ("Not-An-Attribute", .text("v")),
                              ("Team", .text("blue"))])
        #expect(isEvent(decoded))
        #expect(attributes(decoded) == ["specversion": "1.0", "type": "t", "id": "1", "datacontenttype": "text/plain", "team": "blue",
                                        "source": "/apis/v1/namespaces/ns/rabbitmqsources/src#q"])
    }

    @Test("structured mode: the body is the event")
    func structured() {
        let decoded = decode([], body: #"{"specversion":"1.0","type":"t","source":"/s","id":"9","data":{"a":1}}"#,
                             contentType: "application/cloudevents+json; charset=utf-8")
        #expect(isEvent(decoded))
        #expect(decoded.event.id == "9" && decoded.event.data == Array(#"{"a":1}"#.utf8))
    }

    @Test("a plain message is wrapped as Knative wraps it, the body intact")
    func wrapped() throws {
        let decoded = decode([("color", .text("red"))], body: "raw \u{1}bytes", contentType: "text/plain", messageID: "m-1", timestamp: 1_700_000_000)
        guard case .wrapped(let event, let reason) = decoded else { Issue.record("not wrapped"); return }
        #expect(reason == nil)
        #expect(attributes(decoded) == ["specversion": "1.0", "id": "m-1", "subject": "m-1", "type": "dev.knative.rabbitmq.event",
                                        "source": "/apis/v1/namespaces/ns/rabbitmqsources/src#q", "time": "2023-11-14T22:13:20.000Z",
                                        "datacontenttype": "text/plain"])
        #expect(event.data == Array("raw \u{1}bytes".utf8))
        let anonymous = decode([], body: "")
        #expect(anonymous.event.id.count == 36 && anonymous.event.id != decode([], body: "").event.id)
        #expect(anonymous.event.data == nil)
    }

    @Test("an invalid event is wrapped with the reason")
    func invalid() {
        let missingType = decode([("cloudEvents_specversion", .text("1.0")), ("cloudEvents_source", .text("/s")), ("cloudEvents_id", .text("1"))])
        guard case .wrapped(_, let reason?) = missingType else { Issue.record("not wrapped with a reason"); return }
        #expect(reason == .missingAttribute("type"))
        guard case .wrapped(_, .unsupportedSpecVersion("9.9")?) = decode([("specversion", .text("9.9"))]) else {
            Issue.record("a bad specversion is not a reason")
            return
        }
        guard case .wrapped(_, _?) = decode([], body: "{not json", contentType: "application/cloudevents+json") else {
            Issue.record("bad JSON is not a reason")
            return
        }
    }
}
