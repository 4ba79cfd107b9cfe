import FoundationEssentials

/// A PingSource schedule as Knative reads it (robfig/cron's standard parser): five fields
/// (minute, hour, day of month, month, day of week) of `*`, `?`, values, ranges, lists and
/// steps, month and weekday names; the macros `@yearly`, `@annually`, `@monthly`, `@weekly`,
/// `@daily`, `@midnight`, `@hourly` and `@every <duration>`; an optional `CRON_TZ=` or `TZ=`
/// prefix. Times are computed in the schedule's zone with the system's zone database
/// (`ZoneRules`), so a
/// daily 09:00 stays at 09:00 local across DST; a time the clocks skip is skipped, and one
/// they repeat fires at each occurrence, as robfig/cron does.
public struct CronSchedule: Sendable {
    enum Rule: Sendable, Equatable {
        /// One bit per allowed value; a star field also matches when the other day field does
        /// not (robfig: day of month and day of week are ANDed if either is a star, else ORed).
        case fields(minutes: UInt64, hours: UInt64, days: UInt64, months: UInt64, weekdays: UInt64, dayStar: Bool, weekdayStar: Bool)
        /// `@every`: a fixed interval in whole seconds (at least one).
        case every(seconds: Int)
    }

    let rule: Rule
    public let zone: ZoneRules

    /// Parses `text` in `zone` (an IANA name; nil: the process's zone, or the text's
    /// `CRON_TZ=` prefix).
    public init(_ text: String, timeZone zone: String? = nil) throws(CronError) {
        var body = text.trimmingSpaces
        var zoneName = zone
        for prefix in ["CRON_TZ=", "TZ="] where body.hasPrefix(prefix) {
            let rest = body.dropFirst(prefix.count)
            guard let space = rest.firstIndex(of: " ") else { throw CronError("\(prefix) needs a zone and a schedule") }
            zoneName = String(rest[..<space])
            body = rest[space...].trimmingSpaces
        }
        if let zoneName {
            guard let named = ZoneRules(named: zoneName) else { throw CronError("unknown time zone \"\(zoneName)\"") }
            self.zone = named
        } else {
            self.zone = ZoneRules.local
        }
        rule = try CronSchedule.parse(body)
    }

    /// The first time after `date` the schedule fires; nil when none comes within five years
    /// (`0 0 30 2 *`).
    public func next(after date: Date) -> Date? {
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: (date.timeIntervalSince1970 + Double(seconds)).rounded(.down))
        case .fields(let minutes, let hours, let days, let months, let weekdays, let dayStar, let weekdayStar):
            let start = Int64((date.timeIntervalSince1970).rounded(.down))
            var time = (start >= 0 ? start / 60 : (start - 59) / 60) * 60 + 60
            let limit = start + 5 * 366 * 86_400
            while time <= limit {
                let offset = Int64(zone.offset(at: time))
                let local = CivilTime(time + offset)
                if months & (1 << local.month) == 0 {
                    let (year, month) = local.month == 12 ? (local.year + 1, 1) : (local.year, local.month + 1)
                    time = advance(from: time, offset: offset, toLocal: CivilTime.days(year: year, month: month, day: 1) * 86_400)
                    continue
                }
                let dayMatches = days & (1 << local.day) != 0
                let weekdayMatches = weekdays & (1 << local.weekday) != 0
                if !(dayStar || weekdayStar ? dayMatches && weekdayMatches : dayMatches || weekdayMatches) {
                    let midnight = (CivilTime.days(year: local.year, month: local.month, day: local.day) + 1) * 86_400
                    time = advance(from: time, offset: offset, toLocal: midnight)
                    continue
                }
                if hours & (1 << local.hour) == 0 {
                    time += Int64(60 - local.minute) * 60
                    continue
                }
                if minutes & (1 << local.minute) == 0 {
                    time += 60
                    continue
                }
                return Date(timeIntervalSince1970: Double(time))
            }
            return nil
        }
    }

    /// The instant of the local time `target` (seconds of local-midnight arithmetic), never
    /// past it: computed with the offset now or the one at the target, whichever is larger,
    /// so a clock change in between makes the search look at an hour more, not skip one.
    private func advance(from time: Int64, offset: Int64, toLocal target: Int64) -> Int64 {
        let there = Int64(zone.offset(at: target - offset))
        return max(time + 60, target - max(offset, there))
    }

    // MARK: Parsing

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                                     "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12]
    private static let weekdayNames = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

    static func parse(_ text: String) throws(CronError) -> Rule {
        if text.hasPrefix("@every ") {
            let seconds = try parseDuration(text.dropFirst("@every ".count).trimmingSpaces)
            return .every(seconds: max(1, seconds))
        }
        let expanded = text.hasPrefix("@") ? macros[text.lowercased()] : text
        guard let expanded else { throw CronError("unknown macro \"\(text)\" (@yearly, @monthly, @weekly, @daily, @hourly, @every)") }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else { throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)") }
        let minutes = try parseField(fields[0], name: "minute", bounds: 0...59, names: [:])
        let hours = try parseField(fields[1], name: "hour", bounds: 0...23, names: [:])
        let days = try parseField(fields[2], name: "day of month", bounds: 1...31, names: [:])
        let months = try parseField(fields[3], name: "month", bounds: 1...12, names: monthNames)
        let weekdays = try parseField(fields[4], name: "day of week", bounds: 0...6, names: weekdayNames)
        return .fields(minutes: minutes.bits, hours: hours.bits, days: days.bits, months: months.bits, weekdays: weekdays.bits,
                       dayStar: days.star, weekdayStar: weekdays.star)
    }

    /// A comma-separated list of `*`, `?`, `n`, `a-b`, each with an optional `/step`.
    private static func parseField(_ field: String, name: String, bounds: ClosedRange<Int>,
                                   names: [String: Int]) throws(CronError) -> (bits: UInt64, star: Bool) {
        var bits: UInt64 = 0
        var star = false
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let rangeText = pieces.first, !rangeText.isEmpty else { throw CronError("\(name): bad field \"\(part)\"") }
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0 else { throw CronError("\(name): bad step in \"\(part)\"") }
                step = value
            }
            var low: Int, high: Int
            if rangeText == "*" || rangeText == "?" {
                (low, high) = (bounds.lowerBound, bounds.upperBound)
                if pieces.count == 1 { star = true }
            } else {
                let ends = rangeText.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else { throw CronError("\(name): bad range \"\(rangeText)\"") }
                low = try value(String(ends[0]), name: name, names: names)
                high = ends.count == 2 ? try value(String(ends[1]), name: name, names: names) : (pieces.count == 2 ? bounds.upperBound : low)
            }
            guard bounds.contains(low), bounds.contains(high) else {
                throw CronError("\(name): \"\(part)\" is outside \(bounds.lowerBound)-\(bounds.upperBound)")
            }
            guard low <= high else { throw CronError("\(name): \"\(part)\" starts after it ends") }
            for value in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(value) }
        }
        return (bits, star)
    }

    private static func value(_ text: String, name: String, names: [String: Int]) throws(CronError) -> Int {
        if let number = Int(text) { return number }
        if let named = names[text.lowercased()] { return named }
        throw CronError("\(name): \"\(text)\" is not a number\(names.isEmpty ? "" : " or a name")")
    }

    /// A Go duration (`1h30m`, `10s`, `500ms`) in whole seconds, rounded down as robfig does.
    static func parseDuration(_ text: String) throws(CronError) -> Int {
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("µs", 0.000_001), ("ns", 1e-9), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { throw CronError("@every needs a duration such as 10s or 1h30m") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let amount = Double(number) else { throw CronError("bad duration \"\(text)\"") }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { throw CronError("bad duration \"\(text)\": unknown unit") }
            rest = rest.dropFirst(unit.count)
            total += amount * scale
        }
        guard total < 10 * 365 * 86_400 else { throw CronError("duration \"\(text)\" is too long") }
        return Int(total)
    }
}

/// Why a schedule or time zone cannot be used.
public struct CronError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

private extension StringProtocol {
    var trimmingSpaces: String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }), let last = lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(self[first...last])
    }
}
