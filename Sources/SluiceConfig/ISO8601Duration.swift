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
            switch (unit, inTime) {
            case ("Y", false): seconds = 365.2425 * 86400
            case ("M", false): seconds = 30.436875 * 86400
            case ("W", false): seconds = 7 * 86400
            case ("D", false): seconds = 86400
            case ("H", true): seconds = 3600
            case ("M", true): seconds = 60
            case ("S", true): seconds = 1
            default: return nil
            }
            total += value * seconds
            sawComponent = true
        }
        guard sawComponent, total.isFinite, total < 1e12 else { return nil }
        let nanoseconds = Int64((total * 1e9).rounded())
        return .nanoseconds(negative ? -nanoseconds : nanoseconds)
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
