import SluiceCloudEvents
import SluiceCloudEventsHTTP
import SluiceHTTP
import SluiceIO

/// The headers of a delivery POST, written straight into the connection's output: the event
/// in binary mode without `knativebrokerttl` (hidden from subscribers), its transport headers
/// (traceparent, x-request-id, knative-*, ...), `Kn-Namespace`, and `Prefer: reply` for
/// subscribers (not for dead-letter sinks, which see the TTL as Knative's do).
final class DeliveryHeaders: HTTPHeaderWriter {
    let event: CloudEvent
    let namespaceLine: [UInt8]
    let preferReply: Bool

    init(event: CloudEvent, namespaceLine: [UInt8], preferReply: Bool) {
        self.event = event
        self.namespaceLine = namespaceLine
        self.preferReply = preferReply
    }

    /// "Kn-Namespace: <namespace>\r\n", built once per trigger.
    static func namespaceLine(_ namespace: String) -> [UInt8] {
        Array("Kn-Namespace: \(namespace)\r\n".utf8)
    }

    func writeHeaders(into buffer: ByteBuffer) {
        let hideTTL = preferReply
        HTTPBinding.writeBinaryHeaders(of: event, into: buffer) { name in
            hideTTL && bytesEqual(name, AttributeName.knativebrokerttl)
        }
        buffer.append(namespaceLine)
        if preferReply { buffer.append("Prefer: reply\r\n") }
    }
}

/// Which non-CloudEvents headers travel with an event from its producer to subscribers and
/// back with replies: Knative's pass-through list plus W3C trace context.
public enum PassThroughHeaders {
    public static func keeps(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 11 where equalsLowercase(name, "traceparent"): return true
        case 10 where equalsLowercase(name, "tracestate"): return true
        case 12 where equalsLowercase(name, "x-request-id"): return true
        case 2 where equalsLowercase(name, "b3"): return true
        default:
            return startsWithLowercase(name, "knative-") || startsWithLowercase(name, "x-b3-")
        }
    }

    private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != literal.utf8Start[index] { return false }
        }
        return true
    }

    private static func startsWithLowercase(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count > literal.utf8CodeUnitCount else { return false }
        return equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[..<literal.utf8CodeUnitCount]), literal)
    }
}

/// The event sent to a dead-letter sink: the original plus `knativeerrordest`,
/// `knativeerrorcode` and, when the failed answer had a body, `knativeerrordata` (base64 of at
/// most its first 1024 bytes).
public enum DeadLetter {
    public static let maximumErrorData = 1024

    public static func event(for original: CloudEvent, destination: String, status: Int, body: [UInt8]) -> CloudEvent {
        original.modified { builder in
            builder.set(trusted: AttributeName.knativeerrordest, value: destination, kind: .uri)
            builder.set(trusted: AttributeName.knativeerrorcode, value: String(status), kind: .integer)
            if body.isEmpty {
                builder.remove(AttributeName.knativeerrordata)
            } else {
                let encoded = body.prefix(maximumErrorData).withUnsafeBytes { Base64.encode($0) }
                builder.set(trusted: AttributeName.knativeerrordata, value: encoded, kind: .string)
            }
        }
    }
}
