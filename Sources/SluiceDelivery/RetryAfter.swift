import SluiceIO

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate) (RFC 9110 §10.2.3).
public enum RetryAfter {
    public static func parse(_ value: String, now epochSeconds: Int = Int(WallClock.seconds())) -> Duration? {
        let trimmed = value.trimmingSpaces
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return .seconds(min(Int(trimmed.prefix(9)) ?? 86_400, 86_400))
        }
        guard let date = parseIMFFixdate(trimmed) else { return nil }
        return .seconds(max(0, min(date - epochSeconds, 86_400)))
    }


    /// "Sun, 06 Nov 1994 08:49:37 GMT" → seconds since the epoch.
    static func parseIMFFixdate(_ text: String) -> Int? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let days = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"]
        guard days.contains(String(parts[0])) else { return nil }
        let pieces = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        let time = pieces.compactMap { $0.count == 2 ? Int($0) : nil }
        guard pieces.count == 3, time.count == 3, (1...31).contains(day), (0...23).contains(time[0]), (0...59).contains(time[1]), (0...60).contains(time[2]) else { return nil }
        return daysFromCivil(year: year, month: monthIndex + 1, day: day) * 86_400 + time[0] * 3600 + time[1] * 60 + time[2]
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
