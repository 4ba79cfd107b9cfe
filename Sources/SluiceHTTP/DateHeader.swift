import Glibc
import SluiceIO

/// The `Date: <IMF-fixdate>\r\n` header line, formatted at most once per second per loop.
final class DateHeader {
    private var line: [UInt8] = []
    private var second: UInt64 = .max

    /// Appends the current Date line, reformatting only when the monotonic second changed.
    func append(to buffer: ByteBuffer) {
        let monotonicSecond = Monotonic.now() / 1_000_000_000
        if monotonicSecond != second {
            second = monotonicSecond
            line = Array("Date: \(DateHeader.imfFixdate())\r\n".utf8)
        }
        buffer.append(line)
    }

    /// Now in the HTTP date format, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
    static func imfFixdate() -> String {
        format(epochSeconds: Int(WallClock.seconds()))
    }

    static func format(epochSeconds: Int) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let day = days[Int(parts.tm_wday) % 7]
        let month = months[Int(parts.tm_mon) % 12]
        return "\(day), \(two(parts.tm_mday)) \(month) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
