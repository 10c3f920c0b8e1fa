import Glibc
import LinuxPrimitives

/// Kernel parameters through /proc/sys (never the `sysctl` tool). Network keys
/// (`net.*`) belong to the network namespace of the thread that opens the file, so a write
/// made inside `NetworkNamespace.run` changes that namespace only.
public enum Sysctl {
    /// `net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`. Keys may also be given in slash
    /// form (`net/ipv4/conf/eth0.100/forwarding`), needed when an interface name has a dot.
    public static func path(for key: String) -> String {
        if key.hasPrefix("/proc/sys/") { return key }
        let relative = key.contains("/") ? key : String(key.map { $0 == "." ? "/" : $0 })
        return "/proc/sys/" + relative
    }

    public static func read(_ key: String) throws -> String {
        var value = try FileSystem.readSmall(path(for: key))
        while value.last == "\n" || value.last == " " { value.removeLast() }
        return value
    }

    public static func write(_ key: String, _ value: String) throws {
        try FileSystem.writeControl(path(for: key), value)
    }

    /// Writes only when the value differs, and says whether it changed: callers log changes to
    /// host settings, and a read-only /proc/sys is no error when nothing needs changing.
    @discardableResult
    public static func ensure(_ key: String, _ value: String) throws -> Bool {
        if let current = try? read(key), current == value { return false }
        try write(key, value)
        return true
    }
}
