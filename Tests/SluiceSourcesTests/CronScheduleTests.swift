import Foundation
import Testing
@testable import SluiceSources

@Suite("PingSource schedules")
struct CronScheduleTests {
    private func date(_ text: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: text))
    }

    private func iso(_ date: Date?) -> String? {
        date.map { ISO8601DateFormatter().string(from: $0) }
    }

    /// The next `count` firing times after `start`, as ISO 8601 UTC.
    private func times(_ schedule: String, zone: String = "UTC", after start: String, count: Int = 3) throws -> [String] {
        let cron = try CronSchedule(schedule, timeZone: zone)
        var result: [String] = []
        var now = try date(start)
        for _ in 0..<count {
            guard let next = cron.next(after: now) else { break }
            result.append(try #require(iso(next)))
            now = next
        }
        return result
    }

    @Test func fieldsRangesListsStepsAndNames() throws {
        #expect(try times("* * * * *", after: "2026-12-02T10:00:30Z") == ["2026-12-02T10:01:00Z", "2026-12-02T10:02:00Z", "2026-12-02T10:03:00Z"])
        #expect(try times("*/15 9-10 * * *", after: "2026-12-02T10:40:00Z") == ["2026-12-02T10:45:00Z", "2026-12-03T09:00:00Z", "2026-12-03T09:15:00Z"])
        #expect(try times("0 12 * * MON-FRI", after: "2026-12-04T13:00:00Z", count: 2) == ["2026-12-07T12:00:00Z", "2026-12-08T12:00:00Z"])
        #expect(try times("5,10 0 1 jan,Jul ?", after: "2026-12-02T00:00:00Z") == ["2027-01-01T00:05:00Z", "2027-01-01T00:10:00Z", "2027-07-01T00:05:00Z"])
        #expect(try times("0 0 10-20/5 * *", after: "2026-12-02T00:00:00Z") == ["2026-12-10T00:00:00Z", "2026-12-15T00:00:00Z", "2026-12-20T00:00:00Z"])
        #expect(try times("0 0 5/10 * *", after: "2026-12-02T00:00:00Z") == ["2026-12-05T00:00:00Z", "2026-12-15T00:00:00Z", "2026-12-25T00:00:00Z"])
    }

    @Test func dayOfMonthAndDayOfWeekAreOrUnlessOneIsAStar() throws {
        // 2026-12-13 is a Sunday: "the 15th, or any Sunday".
        #expect(try times("0 0 15 * SUN", after: "2026-12-12T00:00:00Z", count: 3) == ["2026-12-13T00:00:00Z", "2026-12-15T00:00:00Z", "2026-12-20T00:00:00Z"])
        #expect(try times("0 0 * * SUN", after: "2026-12-12T00:00:00Z", count: 1) == ["2026-12-13T00:00:00Z"])
    }

    @Test func macrosAndEvery() throws {
        #expect(try times("@hourly", after: "2026-12-02T10:00:00Z", count: 1) == ["2026-12-02T11:00:00Z"])
        #expect(try times("@daily", after: "2026-12-02T10:00:00Z", count: 1) == ["2026-12-03T00:00:00Z"])
        #expect(try times("@weekly", after: "2026-12-02T10:00:00Z", count: 1) == ["2026-12-06T00:00:00Z"])
        #expect(try times("@monthly", after: "2026-12-02T10:00:00Z", count: 1) == ["2027-01-01T00:00:00Z"])
        #expect(try times("@yearly", after: "2026-12-02T10:00:00Z", count: 1) == ["2027-01-01T00:00:00Z"])
        #expect(try times("@every 1m30s", after: "2026-12-02T10:00:00Z", count: 2) == ["2026-12-02T10:01:30Z", "2026-12-02T10:03:00Z"])
        #expect(try times("@every 200ms", after: "2026-12-02T10:00:00Z", count: 1) == ["2026-12-02T10:00:01Z"], "at least a second, as robfig")
        #expect(try CronSchedule("0 0 30 2 *").next(after: try date("2026-01-01T00:00:00Z")) == nil, "February 30th never comes")
    }

    @Test func badSchedulesSayWhy() {
        let bad: [(String, String)] = [
            ("* * * *", "expected 5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"), ("* * * * 7", "day of week"), ("*/0 * * * *", "step"), ("5-1 * * * *", "starts after"),
            ("* * * foo *", "not a number"), ("@fortnightly", "unknown macro"), ("@every", "unknown macro"), ("@every 5x", "unknown unit"),
            ("CRON_TZ=Mars/Olympus * * * * *", "unknown time zone"), ("1,,2 * * * *", "bad field"),
        ]
        for (schedule, reason) in bad {
            #expect(throws: CronError.self, "\(schedule)") { try CronSchedule(schedule) }
            do {
                _ = try CronSchedule(schedule)
            } catch {
                #expect(error.description.contains(reason), "\(schedule): \(error)")
            }
        }
        #expect(throws: CronError.self) { try CronSchedule("* * * * *", timeZone: "Nowhere/Atlantis") }
    }

    @Test func timeZonesFollowDaylightSavingTime() throws {
        // New York: EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4) until 2026-11-01 02:00.
        #expect(try times("0 9 * * *", zone: "America/New_York", after: "2026-03-06T00:00:00Z")
            == ["2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"], "09:00 local on both sides of the change")
        // 02:30 does not exist on 2026-03-08: that day is skipped.
        #expect(try times("30 2 * * *", zone: "America/New_York", after: "2026-03-07T00:00:00Z")
            == ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"])
        // 01:30 happens twice on 2026-11-01: it fires at both.
        #expect(try times("30 1 * * *", zone: "America/New_York", after: "2026-11-01T00:00:00Z")
            == ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"])
        // The prefix Knative writes names the zone as well.
        #expect(try iso(CronSchedule("CRON_TZ=Asia/Kolkata 0 9 * * *").next(after: try date("2026-12-02T00:00:00Z"))) == "2026-12-02T03:30:00Z")
    }
}
