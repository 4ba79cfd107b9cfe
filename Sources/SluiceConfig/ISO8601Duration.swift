/// ISO-8601 durations as Knative's DeliverySpec writes them (`PT0.2S`, `PT1M30S`, `P1D`).
/// Years and months use the average Gregorian lengths, as the Go library Knative uses does.
public enum ISO8601Duration {
    /// Parses `text`; nil when it is not a duration.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.uppercased())
        var negative = false
        if rest.hasPrefix("-") {
            negative = true
            rest = rest.dropFirst()
        }
        guard rest.hasPrefix("P") else { return nil }
        rest = rest.dropFirst()
        var inTime = false
        var total = 0.0
        var sawComponent = false
        var sawTimeComponent = false
        // Units must come in order, each at most once: Y M W D, then T, then H M S.
        var lastRank = -1
        while !rest.isEmpty {
            if rest.hasPrefix("T") {
                guard !inTime else { return nil }
                inTime = true
                rest = rest.dropFirst()
                continue
            }
            let number = rest.prefix { $0.isNumber || $0 == "." || $0 == "," }
            guard !number.isEmpty, let value = Double(number.replacingOccurrences(of: ",", with: ".")) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = rest.first else { return nil }
            rest = rest.dropFirst()
            let seconds: Double
            let rank: Int
            switch (unit, inTime) {
            case ("Y", false): (seconds, rank) = (365.2425 * 86400, 0)
            case ("M", false): (seconds, rank) = (30.436875 * 86400, 1)
            case ("W", false): (seconds, rank) = (7 * 86400, 2)
            case ("D", false): (seconds, rank) = (86400, 3)
            case ("H", true): (seconds, rank) = (3600, 4)
            case ("M", true): (seconds, rank) = (60, 5)
            case ("S", true): (seconds, rank) = (1, 6)
            default: return nil
            }
            guard rank > lastRank else { return nil }
            lastRank = rank
            total += value * seconds
            sawComponent = true
            if inTime { sawTimeComponent = true }
        }
        guard sawComponent, !inTime || sawTimeComponent, total.isFinite, total < 1e12 else { return nil }
        let nanoseconds = Int64((total * 1e9).rounded())
        return .nanoseconds(negative ? -nanoseconds : nanoseconds)
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
