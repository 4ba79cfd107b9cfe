import CSluice
import Glibc
import SluiceCloudEvents

/// What a Knative broker ingress adds to every event it accepts (Knative's
/// `ingress_handler.go` and `ttl.go`): `knativearrivaltime`, and the `knativebrokerttl` loop
/// guard, 255 when absent or not an integer, otherwise the incoming value minus one; an
/// event whose TTL would reach 0 is refused.
enum IngressStamp {
    static let defaultTTL = 255

    static func apply(to builder: inout CloudEventBuilder) throws(CloudEventError) {
        let ttl = try nextTTL(builder.value(of: AttributeName.knativebrokerttl))
        builder.set(trusted: AttributeName.knativebrokerttl, value: String(ttl), kind: .integer)
        var now: [UInt8] = []
        now.reserveCapacity(32)
        appendRFC3339Now(to: &now)
        now.withUnsafeBytes { builder.set(trusted: AttributeName.knativearrivaltime, value: $0, kind: .timestamp) }
    }

    /// The TTL an event continues with, given the value it arrived with.
    static func nextTTL(_ incoming: [UInt8]?) throws(CloudEventError) -> Int {
        guard let incoming,
              let value = incoming.withUnsafeBytes({ AttributeValidation.parseInt32($0, allowPlus: false, allowLeadingZeros: true) })
        else { return defaultTTL }
        let ttl = Int(value) - 1
        if ttl <= 0 {
            throw .rejected("knativebrokerttl reached 0: the event has passed through brokers too many times (a reply loop?)")
        }
        return ttl
    }

    /// The current UTC time as RFC 3339 with microseconds, e.g. 2026-11-23T01:02:03.123456Z.
    static func appendRFC3339Now(to output: inout [UInt8]) {
        var seconds: Int64 = 0
        var nanoseconds: Int32 = 0
        csluice_realtime(&seconds, &nanoseconds)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                output.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        output.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        output.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        output.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        output.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        output.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        output.append(UInt8(ascii: "."))
        digits(Int(nanoseconds) / 1000, 6)
        output.append(UInt8(ascii: "Z"))
    }
}
