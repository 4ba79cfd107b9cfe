import SluiceCloudEvents
import Testing

/// An event built from attribute pairs, as a binding would hand it over.
func makeEvent(_ attributes: [(String, String)], data: [UInt8]? = nil) throws -> CloudEvent {
    var builder = CloudEventBuilder()
    for (name, value) in attributes { try builder.add(name: name, value: value) }
    try builder.validateRequired()
    return builder.build(data: data)
}

let minimalAttributes: [(String, String)] = [
    ("id", "1"), ("source", "/orders"), ("type", "com.example.created"),
]

@Suite("JSON format and primitives")
struct FormatTests {
    @Test func jsonEncodingRoundTrips() throws {
        let original = try makeEvent(minimalAttributes + [("datacontenttype", "application/octet-stream"), ("count", "3")], data: [1, 2])
        let json = JSONFormat.encode(original)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""data_base64":"AQI=""#))
        var builder = CloudEventBuilder()
        let again = try json.withUnsafeBytes { bytes in try JSONFormat.decodeEvent(bytes, builder: &builder, prepare: nil) }
        #expect(again.data == [1, 2])
        #expect(again.attributes.map(\.name) == original.attributes.map(\.name))
        let jsonData = try makeEvent(minimalAttributes + [("datacontenttype", "application/json")], data: Array(#"{"a":[1,2]}"#.utf8))
        #expect(String(decoding: JSONFormat.encode(jsonData), as: UTF8.self).hasSuffix(#","data":{"a":[1,2]}}"#))
    }

    @Test("RFC 3339 timestamps", arguments: [
        ("2018-04-05T17:31:00Z", true), ("2018-04-05T17:31:00.123456789+01:00", true), ("2018-04-05t17:31:00z", true),
        ("2018-04-05T17:31:00-01:00", true), ("2016-02-29T00:00:00Z", true), ("2018-04-05T18:31Z", false),
        ("2018-04-05T17:31:00X", false), ("2018-04-05T17:31:00+25:00", false), ("2018-04-05T17:31:00+xx:00", false),
        ("2018-04-05T17:31:00+05", false), ("lunchtime", false), ("2017-02-29T00:00:00Z", false), ("2018-13-01T00:00:00Z", false),
    ])
    func timestamps(text: String, valid: Bool) {
        #expect(Array(text.utf8).withUnsafeBytes { AttributeValidation.isRFC3339($0) } == valid, "\(text)")
    }

    @Test func base64() {
        #expect(Base64.encode(UnsafeRawBufferPointer(start: nil, count: 0)) == "")
        for sample in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let encoded = Array(sample.utf8).withUnsafeBytes { Base64.encode($0) }
            #expect(Array(encoded.utf8).withUnsafeBytes { Base64.decode($0) } == Array(sample.utf8))
        }
        for bad in ["Zg=", "Zm9v!", "Zh==", "===="] {
            #expect(Array(bad.utf8).withUnsafeBytes { Base64.decode($0) } == nil, "\(bad)")
        }
    }

    @Test func integers() {
        for (text, value) in [("0", Int32(0)), ("-2147483648", Int32.min), ("2147483647", Int32.max), ("42", 42)] {
            #expect(Array(text.utf8).withUnsafeBytes { AttributeValidation.parseInt32($0, allowPlus: false, allowLeadingZeros: false) } == value)
        }
        for bad in ["2147483648", "-2147483649", "01", "+1", "-0", "1.0", "", "-"] {
            #expect(!Array(bad.utf8).withUnsafeBytes { AttributeValidation.isCanonicalInt32($0) }, "\(bad)")
        }
    }
}
