import SluiceCloudEvents

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
