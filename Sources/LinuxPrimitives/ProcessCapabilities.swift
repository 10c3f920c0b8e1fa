/// The capability sets of the calling process, from /proc/self/status: a runtime inside a
/// container (or without CAP_SYS_RESOURCE, as here) cannot grant what it does not hold itself.
public enum ProcessCapabilities {
    /// The bounding set as a bit mask (bit n = capability n); all ones when unreadable.
    public static func bounding() -> UInt64 {
        guard let text = try? FileSystem.readSmall("/proc/self/status") else { return ~0 }
        for line in text.split(separator: "\n") where line.hasPrefix("CapBnd:") {
            let hex = line.dropFirst("CapBnd:".count).drop { $0 == " " || $0 == "\t" }
            return UInt64(hex, radix: 16) ?? ~0
        }
        return ~0
    }
}
