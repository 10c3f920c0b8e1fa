import Foundation
import KubeAPI

/// Timestamps as Kubernetes writes them: RFC 3339, UTC, whole seconds.
enum Timestamp {
    static func format(_ date: Date) -> String { KubeTime.string(date) }

    static func now() -> String { format(Date()) }

    /// Micro-second precision, as `MicroTime` fields (lease renewTime, event eventTime) use.
    static func formatMicro(_ date: Date) -> String { KubeTime.microString(date) }

    /// Parses `2006-01-02T15:04:05Z`, with optional fraction and numeric offset.
    static func parse(_ s: String) -> Date? {
        let u = Array(s.utf8)
        guard u.count >= 20 else { return nil }
        func num(_ a: Int, _ b: Int) -> Int? { Int(String(decoding: u[a..<b], as: UTF8.self)) }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16),
              let sec = num(17, 19) else { return nil }
        var i = 19
        var frac = 0.0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            var j = i + 1
            while j < u.count, u[j] >= 0x30, u[j] <= 0x39 { j += 1 }
            frac = Double("0" + String(decoding: u[i..<j], as: UTF8.self)) ?? 0
            i = j
        }
        var offset = 0
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-"), i + 6 <= u.count,
           let oh = num(i + 1, i + 3), let om = num(i + 4, i + 6)
        {
            offset = (oh * 3600 + om * 60) * (u[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        return KubeTime.date(year: y, month: mo, day: d, hour: h, minute: mi, second: sec, fraction: frac, offsetSeconds: offset)
    }

    /// Upstream's short human duration ("5s", "3m", "2d3h"), used in table cells.
    static func humanAge(since s: String?, now: Date = Date()) -> String {
        guard let s, let d = parse(s) else { return "<unknown>" }
        return humanDuration(now.timeIntervalSince(d))
    }

    static func humanDuration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let dy = (hours / 24) % 365
            return dy == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(dy)d"
        }
        return "\(hours / 24 / 365)y"
    }
}

enum Identifiers {
    static func uid() -> String { UUID().uuidString.lowercased() }

    /// The alphabet upstream uses for generated name suffixes (no vowels, no confusable digits).
    static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    static func suffix(_ n: Int = 5) -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }

    static func token(bytes: Int = 32) -> String {
        var g = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        return String((0..<bytes * 2).map { _ in hex[Int.random(in: 0..<16, using: &g)] })
    }
}
