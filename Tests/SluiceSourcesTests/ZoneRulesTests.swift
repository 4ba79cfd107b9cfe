import Foundation
@testable import SluiceSources
import Testing

/// Time zones from the system's TZif files and their POSIX footer rules, without ICU.
@Suite("Zone rules")
struct ZoneRulesTests {
    private func instant(_ text: String) throws -> Int64 {
        Int64(try #require(ISO8601DateFormatter().date(from: text)).timeIntervalSince1970)
    }

    @Test("recorded transitions and, past them, the footer's rule, north and south of the equator")
    func offsets() throws {
        let paris = try #require(ZoneRules(named: "Europe/Paris"))
        #expect(paris.offset(at: try instant("2026-01-15T12:00:00Z")) == 3600)
        #expect(paris.offset(at: try instant("2026-07-15T12:00:00Z")) == 7200)
        // 2026-03-29 01:00 UTC: clocks go from 02:00 to 03:00.
        #expect(paris.offset(at: try instant("2026-03-29T00:59:59Z")) == 3600)
        #expect(paris.offset(at: try instant("2026-03-29T01:00:00Z")) == 7200)
        #expect(paris.offset(at: try instant("2060-07-15T12:00:00Z")) == 7200, "after 2037: the footer rule")
        #expect(paris.offset(at: try instant("2060-10-31T01:00:00Z")) == 3600, "the last Sunday of October 2060 is the 31st")
        let sydney = try #require(ZoneRules(named: "Australia/Sydney"))
        #expect(sydney.offset(at: try instant("2060-01-15T00:00:00Z")) == 11 * 3600)
        #expect(sydney.offset(at: try instant("2060-07-15T00:00:00Z")) == 10 * 3600)
        #expect(try #require(ZoneRules(named: "Asia/Kolkata")).offset(at: try instant("2070-01-01T00:00:00Z")) == 19_800)
        #expect(try #require(ZoneRules(named: "UTC")).offset(at: 0) == 0)
    }

    @Test("names that are not zones, or reach outside the database, are refused")
    func badNames() {
        for name in ["Nowhere/Atlantis", "../../etc/passwd", "/etc/localtime", "", "Europe/Paris\0", "Europe/../UTC"] {
            #expect(ZoneRules(named: name) == nil, "\(name)")
        }
    }

    @Test("POSIX rules: Mm.w.d, Jn and n days, explicit daylight offsets and times, quoted names")
    func posixRules() throws {
        let newYork = try #require(PosixZoneRule("EST5EDT,M3.2.0,M11.1.0"))
        #expect(newYork.offset(at: try instant("2040-03-11T06:59:59Z")) == -5 * 3600)
        #expect(newYork.offset(at: try instant("2040-03-11T07:00:00Z")) == -4 * 3600, "second Sunday of March 2040, 02:00 local")
        #expect(newYork.offset(at: try instant("2040-11-04T05:59:59Z")) == -4 * 3600)
        #expect(newYork.offset(at: try instant("2040-11-04T06:00:00Z")) == -5 * 3600)
        let julian = try #require(PosixZoneRule("<+03>-3<+04>-4:30,J60/0,J300/0"))
        #expect(julian.offset(at: try instant("2040-03-01T12:00:00Z")) == 16_200, "J60 is March 1st, leap year or not")
        #expect(julian.standardOffset == 3 * 3600)
        let west = try #require(PosixZoneRule("<-03>3"))
        #expect(Int(west.offset(at: 0)) == -10_800 && west.daylight == nil)
        for bad in ["", "X5", "EST", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.2.0", "EST5EDT,J0,J10", "EST999"] {
            #expect(PosixZoneRule(bad) == nil, "\(bad)")
        }
    }

    @Test("a truncated or damaged zone file is refused, never a crash")
    func damagedFiles() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Paris")))
        #expect(ZoneRules(name: "Paris", tzif: bytes) != nil)
        for length in stride(from: 0, to: bytes.count, by: 7) {
            _ = ZoneRules(name: "cut", tzif: Array(bytes[0..<length]))
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            if let zone = ZoneRules(name: "damaged", tzif: damaged) { _ = zone.offset(at: 1_900_000_000) }
        }
    }

    @Test("civil time from seconds and back, both sides of the epoch")
    func civilTime() {
        for seconds: Int64 in [0, -1, 951_782_400, 4_107_542_399, -2_208_988_800] {
            let time = CivilTime(seconds)
            let back = CivilTime.days(year: time.year, month: time.month, day: time.day) * 86_400 + Int64(time.hour * 3600 + time.minute * 60)
            #expect(seconds - back < 60 && seconds - back >= 0, "\(seconds) → \(time)")
        }
        #expect(CivilTime(951_782_400).month == 2 && CivilTime(951_782_400).day == 29, "2000-02-29")
        #expect(CivilTime(0).weekday == 4 && CivilTime(-1).weekday == 3)
    }
}
