import SluiceCloudEvents
import SluiceFilter

/// libFuzzer entry: compiles the input as a CESQL expression and, when it compiles, evaluates
/// it against an event with typed and untyped extensions. Nothing may crash, trap on overflow,
/// hang or recurse without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let expression = try? CESQLExpression(text) else { return 0 }
    for event in FuzzEvents.all {
        _ = event.withView { expression.evaluate($0) }
        _ = event.withView { expression.matches($0) }
    }
    return 0
}

enum FuzzEvents {
    static let all: [CloudEvent] = {
        var builder = CloudEventBuilder()
        var events: [CloudEvent] = []
        let attributes: [[(String, String, AttributeKind)]] = [
            [("id", "1", .string), ("source", "/orders/eu", .string), ("type", "com.example.a", .string),
             ("subject", "Sakila ☃", .string), ("n", "-2147483648", .integer), ("b", "true", .boolean), ("s", "42", .string)],
            [("id", "x", .string), ("source", "urn:a", .string), ("type", "t", .string), ("time", "2018-04-26T14:48:09+02:00", .timestamp)],
        ]
        for set in attributes {
            builder.reset()
            for (name, value, kind) in set { try? builder.add(name: name, value: value, kind: kind) }
            events.append(builder.build(data: nil as [UInt8]?))
        }
        return events
    }()
}
