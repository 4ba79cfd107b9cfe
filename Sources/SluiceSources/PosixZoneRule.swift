/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`), as a TZif footer gives the offsets after its
/// last recorded transition: a standard offset and, optionally, a daylight offset with the
/// rules of when it starts and ends each year (`Mm.w.d`, `Jn` or `n`, each with a local time).
struct PosixZoneRule: Sendable, Equatable {
    /// Seconds east of UTC (POSIX writes them west, with the opposite sign).
    let standardOffset: Int32
    let daylight: Daylight?

    struct Daylight: Sendable, Equatable {
        let offset: Int32
        let start: Transition
        let end: Transition
    }

    struct Transition: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5: the last) of month `m`.
            case monthWeek(month: Int, week: Int, weekday: Int)
            /// `Jn`: day 1...365, February 29th never counted.
            case julian(Int)
            /// `n`: day 0...365, counting February 29th.
            case zeroBased(Int)
        }

        let day: Day
        /// Local seconds after midnight (may be negative or past a day, as in TZif v3).
        let time: Int64
    }

    init?(_ text: String) {
        var scanner = Substring(text)
        guard PosixZoneRule.name(&scanner), let standard = PosixZoneRule.offset(&scanner) else { return nil }
        standardOffset = Int32(-standard)
        guard !scanner.isEmpty else {
            daylight = nil
            return
        }
        guard PosixZoneRule.name(&scanner) else { return nil }
        var daylightOffset = standardOffset + 3600
        if let first = scanner.first, first != "," {
            guard let explicit = PosixZoneRule.offset(&scanner) else { return nil }
            daylightOffset = Int32(-explicit)
        }
        guard scanner.first == ",", case let parts = scanner.dropFirst().split(separator: ",", omittingEmptySubsequences: false),
              parts.count == 2, let start = PosixZoneRule.transition(parts[0]), let end = PosixZoneRule.transition(parts[1]) else { return nil }
        daylight = Daylight(offset: daylightOffset, start: start, end: end)
    }

    func offset(at instant: Int64) -> Int32 {
        guard let daylight else { return standardOffset }
        let year = CivilTime(instant + Int64(standardOffset)).year
        // Starts are written in standard time, ends in daylight time.
        let start = daylight.start.instant(year: year) - Int64(standardOffset)
        let end = daylight.end.instant(year: year) - Int64(daylight.offset)
        let inDaylight = start < end ? (start <= instant && instant < end) : !(end <= instant && instant < start)
        return inDaylight ? daylight.offset : standardOffset
    }

    // MARK: Parsing

    /// A zone abbreviation: three or more letters, or anything within `<` and `>`.
    private static func name(_ scanner: inout Substring) -> Bool {
        if scanner.first == "<" {
            guard let close = scanner.firstIndex(of: ">") else { return false }
            scanner = scanner[scanner.index(after: close)...]
            return true
        }
        let letters = scanner.prefix { $0.isLetter }
        guard letters.count >= 3 else { return false }
        scanner = scanner.dropFirst(letters.count)
        return true
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    private static func offset(_ scanner: inout Substring) -> Int64? {
        var sign: Int64 = 1
        if scanner.first == "+" || scanner.first == "-" {
            if scanner.first == "-" { sign = -1 }
            scanner = scanner.dropFirst()
        }
        let text = scanner.prefix { $0.isNumber || $0 == ":" }
        scanner = scanner.dropFirst(text.count)
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
        guard (1...3).contains(fields.count), !fields.contains(nil) else { return nil }
        let values = fields.map { $0 ?? 0 }
        guard values[0] <= 167, values.dropFirst().allSatisfy({ $0 < 60 }) else { return nil }
        return sign * (values[0] * 3600 + (values.count > 1 ? values[1] * 60 : 0) + (values.count > 2 ? values[2] : 0))
    }

    private static func transition(_ text: Substring) -> Transition? {
        let pieces = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var time: Int64 = 7200
        if pieces.count == 2 {
            var timeText = pieces[1]
            guard let parsed = offset(&timeText), timeText.isEmpty else { return nil }
            time = parsed
        }
        let day = pieces[0]
        if day.hasPrefix("M") {
            let numbers = day.dropFirst().split(separator: ".", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard numbers.count == 3, (1...12).contains(numbers[0]), (1...5).contains(numbers[1]), (0...6).contains(numbers[2]) else { return nil }
            return Transition(day: .monthWeek(month: numbers[0], week: numbers[1], weekday: numbers[2]), time: time)
        }
        if day.hasPrefix("J") {
            guard let number = Int(day.dropFirst()), (1...365).contains(number) else { return nil }
            return Transition(day: .julian(number), time: time)
        }
        guard let number = Int(day), (0...365).contains(number) else { return nil }
        return Transition(day: .zeroBased(number), time: time)
    }
}

extension PosixZoneRule.Transition {
    /// The transition's local time in `year`, as seconds since the epoch of local midnight
    /// arithmetic (subtract the offset in force to get the instant).
    func instant(year: Int) -> Int64 {
        let days: Int64
        switch day {
        case .monthWeek(let month, let week, let weekday):
            let first = CivilTime.days(year: year, month: month, day: 1)
            var date = first + Int64((weekday - CivilTime.weekday(days: first) + 7) % 7) + Int64(7 * (week - 1))
            while date >= first + Int64(CivilTime.daysIn(month: month, year: year)) { date -= 7 }
            days = date
        case .julian(let number):
            // Day 60 is March 1st whether or not the year is a leap year.
            let march = CivilTime.isLeap(year) && number >= 60 ? 1 : 0
            days = CivilTime.days(year: year, month: 1, day: 1) + Int64(number - 1 + march)
        case .zeroBased(let number):
            days = CivilTime.days(year: year, month: 1, day: 1) + Int64(number)
        }
        return days * 86_400 + time
    }
}

/// Proleptic Gregorian calendar arithmetic on seconds since the epoch (Howard Hinnant's
/// algorithms), for local times computed as UTC instant plus offset.
struct CivilTime: Equatable {
    let year: Int, month: Int, day: Int, hour: Int, minute: Int
    /// 0 Sunday ... 6 Saturday.
    let weekday: Int

    init(_ seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        weekday = CivilTime.weekday(days: days)
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 of a date.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func weekday(days: Int64) -> Int {
        Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday (4)
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        month == 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].contains(month) ? 30 : 31
    }
}
