import Glibc

/// Wall-clock time in the forms Kubernetes writes, without Foundation.
public enum WallClock {
    /// Nanoseconds since the epoch.
    public static func nanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public static func monotonicNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// `2016-10-06T00:17:09.669794202Z`: fixed nine fraction digits, as CRI log lines carry.
    public static func rfc3339Nano(_ nanos: Int64) -> [UInt8] {
        var t = time_t(nanos / 1_000_000_000)
        var parts = tm()
        gmtime_r(&t, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(30)
        func digits(_ v: Int, _ width: Int) {
            var buf = [UInt8](repeating: 48, count: width)
            var x = v
            for i in stride(from: width - 1, through: 0, by: -1) {
                buf[i] = UInt8(48 + x % 10)
                x /= 10
            }
            out.append(contentsOf: buf)
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(45)
        digits(Int(parts.tm_mon) + 1, 2); out.append(45)
        digits(Int(parts.tm_mday), 2); out.append(84)
        digits(Int(parts.tm_hour), 2); out.append(58)
        digits(Int(parts.tm_min), 2); out.append(58)
        digits(Int(parts.tm_sec), 2); out.append(46)
        digits(Int(nanos % 1_000_000_000), 9); out.append(90)
        return out
    }

    /// `2016-10-06T00:17:09Z`, the seconds form of metadata and status times.
    public static func rfc3339(_ nanos: Int64) -> String {
        let full = rfc3339Nano(nanos)
        return String(decoding: full[0..<19], as: UTF8.self) + "Z"
    }
}
