import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import Testing

/// Decodes a message given as header pairs and a body, through the same path as a response.
func decode(_ headers: [(String, String)], _ body: String = "", keep: Set<String> = []) throws(CloudEventError) -> [CloudEvent] {
    var decoder = HTTPEventDecoder()
    let response = HTTPClientResponse(status: 200, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
    let wantsEvent = headers.contains { $0.0.lowercased() == "ce-specversion" || $0.0.lowercased() == "content-type" }
    guard wantsEvent, let events = try decoder.decodeReply(response, keepTransportHeader: { name in
        keep.contains(String(decoding: name, as: UTF8.self).lowercased())
    }) else { throw .notACloudEvent }
    return events
}

let minimalBinary: [(String, String)] = [
    ("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/orders"), ("ce-type", "com.example.created"),
]

@Suite("HTTP binding: decoding")
struct DecodingTests {
    @Test func binaryMode() throws {
        let event = try decode(minimalBinary + [("Content-Type", "application/json; charset=utf-8"), ("ce-myext", "hello%20world"),
                                                ("traceparent", "00-abc-def-01"), ("X-Other", "dropped")],
                               #"{"a":1}"#, keep: ["traceparent"])[0]
        #expect(event.specVersion == .v1_0)
        #expect(event.id == "1")
        #expect(event.source == "/orders")
        #expect(event.type == "com.example.created")
        #expect(event.string(named: "datacontenttype") == "application/json; charset=utf-8")
        #expect(event.string(named: "myext") == "hello world")
        #expect(event.data == Array(#"{"a":1}"#.utf8))
        #expect(event.transportHeaders.map(\.name) == ["traceparent"])
    }

    @Test func headerNamesAreCaseInsensitiveAndValuesUnquoted() throws {
        let event = try decode([("CE-SPECVERSION", "1.0"), ("Ce-Id", "\"quoted \\\"id\\\"\""), ("ce-SOURCE", "urn:x"),
                                ("ce-type", "t"), ("ce-json", #"{"othervalue": 5}"#)])[0]
        #expect(event.id == #"quoted "id""#)
        #expect(event.string(named: "json") == #"{"othervalue": 5}"#)
        #expect(!event.hasData)
    }

    @Test func specVersion03() throws {
        let event = try decode([("ce-specversion", "0.3"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"),
                                ("ce-schemaurl", "/schema")])[0]
        #expect(event.specVersion == .v0_3)
        #expect(event.string(named: "schemaurl") == "/schema")
    }

    @Test("invalid binary events", arguments: [
        ([("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")], CloudEventError.notACloudEvent),
        ([("ce-specversion", "0.9"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")], .unsupportedSpecVersion("0.9")),
        ([("ce-specversion", ""), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")], .unsupportedSpecVersion("")),
        ([("ce-specversion", "1.0"), ("ce-source", "/s"), ("ce-type", "t")], .missingAttribute("id")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-type", "t")], .missingAttribute("source")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s")], .missingAttribute("type")),
        ([("ce-specversion", "1.0"), ("ce-id", ""), ("ce-source", "/s"), ("ce-type", "t")], .emptyAttribute("id")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "a b"), ("ce-type", "t")],
         .invalidAttribute(name: "source", reason: "not a URI reference")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"), ("ce-time", "2018-04-05T18:31Z")],
         .invalidAttribute(name: "time", reason: "not an RFC 3339 timestamp")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"), ("ce-dataschema", "relative")],
         .invalidAttribute(name: "dataschema", reason: "not an absolute URI")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"), ("ce-my-ext", "x")],
         .invalidAttributeName("my-ext")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"), ("ce-data", "x")],
         .reservedAttributeName("data")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-id", "2"), ("ce-source", "/s"), ("ce-type", "t")],
         .duplicateAttribute("id")),
        ([("ce-specversion", "1.0"), ("ce-id", "%C0%A0"), ("ce-source", "/s"), ("ce-type", "t")],
         .invalidAttribute(name: "id", reason: "not a valid string (control characters or invalid UTF-8)")),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t"), ("Content-Type", "xyz")],
         .invalidAttribute(name: "datacontenttype", reason: "not a media type")),
    ] as [([(String, String)], CloudEventError)])
    func invalidBinaryEvents(headers: [(String, String)], expected: CloudEventError) {
        #expect(throws: expected) { try decode(headers) }
    }

    @Test func structuredMode() throws {
        let body = """
            {"specversion":"1.0","id":"A234-1234-1234","source":"https://github.com/cloudevents/spec/pull",
             "type":"com.github.pull_request.opened","time":"2018-04-05T17:31:00Z","comexampleextension1":"value",
             "comexampleothervalue":5,"flag":true,"nullable":null,"datacontenttype":"text/xml","data":"<much wow=\\"xml\\"/>"}
            """
        let event = try decode([("Content-Type", "application/cloudevents+json; charset=UTF-8")], body)[0]
        #expect(event.id == "A234-1234-1234")
        #expect(event.kind(named: "comexampleothervalue") == .integer)
        #expect(event.string(named: "comexampleothervalue") == "5")
        #expect(event.kind(named: "flag") == .boolean)
        #expect(event.string(named: "nullable") == nil)
        #expect(event.string(named: "time") == "2018-04-05T17:31:00Z")
        #expect(event.data == Array(#"<much wow="xml"/>"#.utf8))
    }

    @Test func structuredJSONDataKeepsItsText() throws {
        let withType = try decode([("Content-Type", "application/cloudevents+json")],
                                  #"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"x": [1, 2]}}"#)[0]
        #expect(withType.data == Array(#"{"x": [1, 2]}"#.utf8))
        #expect(!withType.dataIsImpliedJSON)
        let implied = try decode([("Content-Type", "application/cloudevents+json")],
                                 #"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"I'm just a string"}"#)[0]
        #expect(implied.data == Array(#""I'm just a string""#.utf8))
        #expect(implied.dataIsImpliedJSON)
        let base64 = try decode([("Content-Type", "application/cloudevents+json")],
                                #"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC/w=="}"#)[0]
        #expect(base64.data == [0, 1, 2, 255])
    }

    @Test("invalid structured events", arguments: [
        #"{"specversion":"1.0","id":1,"source":"/s","type":"t"}"#,
        #"{"specversion":"1.0","id":{"a":1},"source":"/s","type":"t"}"#,
        #"{"specversion":1.0,"id":"1","source":"/s","type":"t"}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExtension":"x"}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","my.extension":"x"}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","n":10.0}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","n":2147483648}"#,
        #"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#,
        #"{"specversion":"1.0","id":"\uDEAD","source":"/s","type":"t"}"#,
        #"{"specversion":"1.0","id":null,"source":"/s","type":"t"}"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t"} trailing"#,
        #"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        "[]",
        "",
    ])
    func invalidStructuredEvents(body: String) {
        #expect(throws: CloudEventError.self) { try decode([("Content-Type", "application/cloudevents+json")], body) }
    }

    @Test func batches() throws {
        let events = try decode([("Content-Type", "application/cloudevents-batch+json")], """
            [{"specversion":"1.0","id":"1","source":"/s","type":"t"},
             {"specversion":"1.0","id":"2","source":"/s","type":"u","data":{"k":"v"}}]
            """)
        #expect(events.map(\.id) == ["1", "2"])
        #expect(try decode([("Content-Type", "application/cloudevents-batch+json")], "[]").isEmpty)
        #expect(throws: CloudEventError.self) {
            try decode([("Content-Type", "application/cloudevents-batch+json")],
                       #"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"0.3","id":"2","source":"/s","type":"t"}]"#)
        }
        #expect(throws: CloudEventError.self) {
            try decode([("Content-Type", "application/cloudevents-batch+json")], #"[{"specversion":"1.0","id":"1","source":"/s","type":"t"}, 5]"#)
        }
        #expect(throws: CloudEventError.unsupportedFormat("application/cloudevents+avro")) {
            try decode([("Content-Type", "application/cloudevents+avro")], "x")
        }
    }
}

@Suite("HTTP binding: encoding")
struct EncodingTests {
    @Test func binaryHeadersForDelivery() throws {
        let event = try decode(minimalBinary + [("Content-Type", "text/plain"), ("ce-note", "Euro € 😀"),
                                                ("ce-knativebrokerttl", "255")], "body")[0]
        var output: [UInt8] = []
        HTTPBinding.appendBinaryHeaders(of: event, to: &output) { name in
            String(decoding: name, as: UTF8.self) == "knativebrokerttl"
        }
        let text = String(decoding: output, as: UTF8.self)
        #expect(text.contains("ce-id: 1\r\n"))
        #expect(text.contains("Content-Type: text/plain\r\n"))
        #expect(text.contains("ce-note: Euro%20%E2%82%AC%20%F0%9F%98%80\r\n"))
        #expect(text.contains("ce-specversion: 1.0\r\n"))
        #expect(!text.contains("knativebrokerttl"))
        #expect(!text.contains("ce-datacontenttype"))
    }
}
