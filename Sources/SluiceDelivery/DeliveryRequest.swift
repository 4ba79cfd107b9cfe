import SluiceCloudEvents

/// The headers of a delivery POST: the event in binary mode without `knativebrokerttl` (hidden
/// from subscribers), its transport headers (traceparent, x-request-id, knative-*, ...),
/// `Kn-Namespace`, and `Prefer: reply` for subscribers (not for dead-letter sinks).
enum DeliveryRequest {
    static func headerBlock(for event: CloudEvent, namespace: String, preferReply: Bool) -> [UInt8] {
        var block: [UInt8] = []
        block.reserveCapacity(256 + event.attributeCount * 32)
        HTTPBinding.appendBinaryHeaders(of: event, to: &block) { name in
            bytesEqual(name, AttributeName.knativebrokerttl) && preferReply
        }
        block.append(contentsOf: "Kn-Namespace: ".utf8)
        block.append(contentsOf: namespace.utf8)
        block.append(contentsOf: "\r\n".utf8)
        if preferReply { block.append(contentsOf: "Prefer: reply\r\n".utf8) }
        return block
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
