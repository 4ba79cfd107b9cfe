import Glibc
import SluiceCloudEvents
import SluiceIO

/// What a Knative broker ingress adds to every event it accepts (Knative's
/// `ingress_handler.go` and `ttl.go`): `knativearrivaltime`, and the `knativebrokerttl` loop
/// guard, 255 when absent or not an integer, otherwise the incoming value minus one; an
/// event whose TTL would reach 0 is refused.
enum IngressStamp {
    static let defaultTTL = 255

    static func apply(to builder: inout CloudEventBuilder, clock: ArrivalClock) throws(CloudEventError) {
        let ttl = try builder.withValue(of: AttributeName.knativebrokerttl) { (incoming: UnsafeRawBufferPointer?) -> Result<Int, CloudEventError> in
            Result { () throws(CloudEventError) in try nextTTL(incoming) }
        }.get()
        withUnsafeTemporaryAllocation(byteCount: 40, alignment: 1) { scratch in
            let base = scratch.baseAddress!
            let digits = writeDecimal(ttl, to: base)
            builder.set(trusted: AttributeName.knativebrokerttl, value: UnsafeRawBufferPointer(start: base, count: digits), kind: .integer)
            let count = clock.writeNow(to: base)
            builder.set(trusted: AttributeName.knativearrivaltime, value: UnsafeRawBufferPointer(start: base, count: count), kind: .timestamp)
        }
    }

    /// The TTL an event continues with, given the value it arrived with.
    static func nextTTL(_ incoming: UnsafeRawBufferPointer?) throws(CloudEventError) -> Int {
        guard let incoming, let value = AttributeValidation.parseInt32(incoming, allowPlus: false, allowLeadingZeros: true) else {
            return defaultTTL
        }
        let ttl = Int(value) - 1
        if ttl <= 0 {
            throw .rejected("knativebrokerttl reached 0: the event has passed through brokers too many times (a reply loop?)")
        }
        return ttl
    }

    /// Writes the decimal digits of a positive integer; returns how many.
    static func writeDecimal(_ value: Int, to output: UnsafeMutableRawPointer) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        rest = value
        var position = digits - 1
        while position >= 0 {
            output.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: position, as: UInt8.self)
            rest /= 10
            position -= 1
        }
        return digits
    }
}

/// The current UTC time as RFC 3339 with microseconds (2026-11-23T01:02:03.123456Z). The
/// date and time of day are formatted once per second; each call only adds the fraction.
/// One per thread.
final class ArrivalClock: @unchecked Sendable {  // used by one loop
    private var second: Int64 = .min
    private var prefix = [UInt8](repeating: 0, count: 20)  // "YYYY-MM-DDTHH:MM:SS."

    /// Writes the timestamp (27 bytes) at `output`; returns its length.
    func writeNow(to output: UnsafeMutableRawPointer) -> Int {
        let (seconds, nanoseconds) = WallClock.now()
        if seconds != second {
            second = seconds
            formatPrefix(seconds)
        }
        prefix.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: 20) }
        var micros = Int(nanoseconds) / 1000
        var position = 25
        while position >= 20 {
            output.storeBytes(of: UInt8(ascii: "0") + UInt8(micros % 10), toByteOffset: position, as: UInt8.self)
            micros /= 10
            position -= 1
        }
        output.storeBytes(of: UInt8(ascii: "Z"), toByteOffset: 26, as: UInt8.self)
        return 27
    }

    private func formatPrefix(_ seconds: Int64) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text: [UInt8] = []
        func two(_ value: Int32) {
            text.append(UInt8(ascii: "0") + UInt8(value / 10 % 10))
            text.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
        let year = Int(parts.tm_year) + 1900
        for divisor in [1000, 100, 10, 1] { text.append(UInt8(ascii: "0") + UInt8(year / divisor % 10)) }
        text.append(UInt8(ascii: "-"))
        two(parts.tm_mon + 1)
        text.append(UInt8(ascii: "-"))
        two(parts.tm_mday)
        text.append(UInt8(ascii: "T"))
        two(parts.tm_hour)
        text.append(UInt8(ascii: ":"))
        two(parts.tm_min)
        text.append(UInt8(ascii: ":"))
        two(parts.tm_sec)
        text.append(UInt8(ascii: "."))
        prefix = text
    }
}
