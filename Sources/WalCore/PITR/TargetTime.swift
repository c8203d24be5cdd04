import Foundation

/// A `--target-time`: ISO 8601 with a zone (`2026-11-30T14:02:00+01:00`, `…Z`, a space instead
/// of `T`, up to microseconds). Without a zone it is refused: the server's and the DBA's zones
/// may differ, and a guess an hour off restores the wrong data.
public struct TargetTime: Sendable, Equatable, Comparable {
    /// Seconds since 1970-01-01 UTC.
    public let epochSeconds: Int64
    /// Microseconds within the second.
    public let microseconds: Int

    /// What a `--target-time` must look like, for errors.
    public static let expected =
        "an ISO 8601 time with a zone, such as 2026-11-30T14:02:00+01:00 or 2026-11-30 13:02:00Z"

    /// Parses the text; nil when it is not an ISO 8601 time with a zone.
    public init?(_ text: String) {
        let pattern =
            /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)? ?(Z|z|[+-]\d{2}(?::?\d{2})?)$/
        guard let m = text.wholeMatch(of: pattern),
            let year = Int(m.1), let month = Int(m.2), let day = Int(m.3),
            let hour = Int(m.4), let minute = Int(m.5)
        else { return nil }
        let second = m.6.flatMap { Int($0) } ?? 0
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 60, let offset = Self.offsetSeconds(String(m.8))
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components),
            calendar.component(.day, from: date) == day
        else { return nil }
        let fraction = m.7.map { String($0) } ?? ""
        epochSeconds = Int64(date.timeIntervalSince1970.rounded()) - Int64(offset)
        microseconds = Int(fraction.padding(toLength: 6, withPad: "0", startingAt: 0)) ?? 0
    }

    /// A time from a date (for tests and comparisons), truncated to microseconds.
    public init(_ date: Date) {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        epochSeconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        microseconds = Int(micros - epochSeconds * 1_000_000)
    }

    /// `+01:00` → 3600, `Z` → 0; nil for an offset beyond ±15:59.
    static func offsetSeconds(_ zone: String) -> Int? {
        if zone == "Z" || zone == "z" { return 0 }
        let sign = zone.hasPrefix("-") ? -1 : 1
        let digits = zone.dropFirst().filter(\.isNumber)
        guard let hours = Int(digits.prefix(2)), hours <= 15 else { return nil }
        let minutes = digits.count > 2 ? Int(digits.dropFirst(2)) ?? 99 : 0
        guard minutes < 60 else { return nil }
        return sign * (hours * 3600 + minutes * 60)
    }

    /// The instant.
    public var date: Date {
        Date(timeIntervalSince1970: Double(epochSeconds) + Double(microseconds) / 1_000_000)
    }

    /// `2026-11-30 13:02:00.250000+00`: UTC, what recovery_target_time reads unambiguously.
    public var postgresText: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second],
            from: Date(timeIntervalSince1970: Double(epochSeconds)))
        let base = String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!,
            c.second!)
        return base + (microseconds > 0 ? String(format: ".%06d", microseconds) : "") + "+00"
    }

    public static func < (a: TargetTime, b: TargetTime) -> Bool {
        (a.epochSeconds, a.microseconds) < (b.epochSeconds, b.microseconds)
    }
}
