import Glibc

/// Values the kernel fixes for the life of the host, needed to turn /proc numbers (clock ticks,
/// pages) into seconds and bytes.
public enum HostConstants {
    /// USER_HZ: the unit of utime/stime in /proc/PID/stat.
    public static var clockTicksPerSecond: Int {
        let value = sysconf(Int32(_SC_CLK_TCK))
        return value > 0 ? value : 100
    }

    /// The unit of /proc/PID/statm.
    public static var pageSize: Int {
        let value = sysconf(Int32(_SC_PAGESIZE))
        return value > 0 ? value : 4096
    }

    /// The host's name (uname nodename), the default Kubernetes node name.
    public static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let rc = buffer.withUnsafeMutableBytes { raw in
            gethostname(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count - 1)
        }
        guard rc == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Seconds since the Unix epoch with nanosecond resolution (CLOCK_REALTIME).
    public static func wallClockSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Nanoseconds of CLOCK_MONOTONIC, for rates between two samples.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
