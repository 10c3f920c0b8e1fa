import LinuxPrimitives

/// Linux capabilities by name, and the default set a container gets (containerd's 14).
public enum Capabilities {
    /// Capability numbers from linux/capability.h.
    public static let numbers: [String: Int] = [
        "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
        "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
        "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
        "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
        "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
        "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
        "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
        "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
    ]

    /// The capabilities containerd gives a container by default.
    public static let defaultSet = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                                    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"]

    public struct UnknownCapability: Error, CustomStringConvertible, Sendable {
        public let name: String
        public var description: String { "unknown capability \"\(name)\"" }
    }

    /// `NET_ADMIN`, `CAP_NET_ADMIN` and `net_admin` all name capability 12.
    public static func number(_ name: String) -> Int? {
        var n = name.uppercased()
        if n.hasPrefix("CAP_") { n.removeFirst(4) }
        return numbers[n]
    }

    /// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`), 40 if unreadable.
    public static func lastCapability() -> Int {
        guard let bytes = try? FileSystem.readBytes("/proc/sys/kernel/cap_last_cap"),
              let v = Int(String(decoding: bytes, as: UTF8.self).filter(\.isNumber)) else { return 40 }
        return v
    }

    public static func mask(_ names: [String]) throws -> UInt64 {
        var mask: UInt64 = 0
        for name in names {
            guard let n = number(name) else { throw UnknownCapability(name: name) }
            mask |= 1 << UInt64(n)
        }
        return mask
    }

    /// Every capability this kernel has (`privileged`, or `add: [ALL]`).
    public static func allMask() -> UInt64 {
        let last = lastCapability()
        return last >= 63 ? ~0 : (UInt64(1) << UInt64(last + 1)) - 1
    }

    /// The container's bounding/permitted/effective set: the default set (or all when
    /// privileged), with `add` and `drop` applied as containerd does (`ALL` allowed in both).
    public static func effectiveSet(privileged: Bool, add: [String], drop: [String]) throws -> UInt64 {
        if privileged { return allMask() }
        var set = try mask(defaultSet)
        if add.contains(where: { $0.uppercased() == "ALL" }) { set = allMask() } else { set |= try mask(add) }
        if drop.contains(where: { $0.uppercased() == "ALL" }) {
            set = try mask(add.filter { $0.uppercased() != "ALL" })
        } else {
            set &= ~(try mask(drop))
        }
        return set
    }

    /// Names in a mask, for status and tests.
    public static func names(_ mask: UInt64) -> [String] {
        numbers.filter { mask & (1 << UInt64($0.value)) != 0 }.sorted { $0.value < $1.value }.map(\.key)
    }
}
