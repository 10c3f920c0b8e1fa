/// RFC 3339 timestamps in UTC, as Kubernetes' metav1.Time serialises them.
enum RFC3339 {
    static func format(_ seconds: Double, fractional: Bool = false) -> String {
        let whole = Int64(seconds.rounded(.down))
        var days = whole / 86_400
        var rest = whole % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        var text = "\(year)-\(pad(month))-\(pad(day))T\(pad(Int(rest / 3600)))"
        text += ":\(pad(Int(rest % 3600 / 60))):\(pad(Int(rest % 60)))"
        if fractional {
            let nanos = Int(((seconds - Double(whole)) * 1e9).rounded(.down))
            var digits = String(nanos)
            digits = String(repeating: "0", count: max(0, 9 - digits.count)) + digits
            while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
            if digits != "0" { text += "." + digits }
        }
        return text + "Z"
    }

    private static func pad(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, Int(m), Int(d))
    }
}
