import Glibc

/// The sd_notify protocol spoken directly (no libsystemd): newline-separated `KEY=VALUE`
/// assignments in one datagram to the AF_UNIX socket named by `$NOTIFY_SOCKET`. systemd uses it
/// for Type=notify readiness (READY=1), the status line `systemctl status` shows (STATUS=),
/// the watchdog keep-alive (WATCHDOG=1) and the start of a stop (STOPPING=1).
public struct SystemdNotifier: Sendable, Hashable {
    /// Where systemd listens.
    public let address: UnixSocketAddress

    public init(address: UnixSocketAddress) { self.address = address }

    /// The notifier for this process, or nil when it was not started by systemd with a notify
    /// socket (then every call site simply has nothing to tell). A malformed `$NOTIFY_SOCKET`
    /// is an error, naming the value.
    public static func fromEnvironment() throws -> SystemdNotifier? {
        try SystemdNotifier(notifySocket: ProcessEnvironment.value("NOTIFY_SOCKET"))
    }

    /// From the value of `$NOTIFY_SOCKET` (nil or empty: not under a notify-aware manager).
    public init?(notifySocket: String?) throws {
        guard let notifySocket, !notifySocket.isEmpty else { return nil }
        address = try UnixSocketAddress(parsing: notifySocket)
    }

    /// Sends the assignments in one datagram, in order.
    public func notify(_ assignments: [(key: String, value: String)]) throws {
        var text = ""
        for (key, value) in assignments {
            guard !key.isEmpty, !key.contains("="), !key.contains("\n") else {
                throw SystemError("sd_notify(invalid key)", errno: EINVAL, path: key)
            }
            // A newline would start a new assignment: status text is flattened to one line.
            text += key + "=" + value.replacingNewlines() + "\n"
        }
        let socket = try UnixDatagramSocket.make()
        defer { socket.close() }
        try socket.send(Array(text.utf8), to: address)
    }

    /// READY=1, with a status line: startup (re-adoption, first sync) is done.
    public func ready(status: String? = nil) throws {
        var list = [(key: "READY", value: "1")]
        if let status { list.append((key: "STATUS", value: status)) }
        try notify(list)
    }

    /// STATUS=: one line for `systemctl status`.
    public func status(_ text: String) throws { try notify([(key: "STATUS", value: text)]) }

    /// WATCHDOG=1: the main loop is alive; send it at least every `WatchdogSettings.interval / 2`.
    public func watchdog() throws { try notify([(key: "WATCHDOG", value: "1")]) }

    /// STOPPING=1: shutdown has begun (systemd stops waiting for READY and shows "deactivating").
    public func stopping(status: String? = nil) throws {
        var list = [(key: "STOPPING", value: "1")]
        if let status { list.append((key: "STATUS", value: status)) }
        try notify(list)
    }

    /// RELOADING=1 / READY=1 bracket a configuration reload.
    public func reloading() throws { try notify([(key: "RELOADING", value: "1")]) }

    /// WATCHDOG=trigger: asks systemd to act as if the watchdog had expired (for tests and for
    /// a main loop that detects it is wedged).
    public func triggerWatchdog() throws { try notify([(key: "WATCHDOG", value: "trigger")]) }
}

/// The watchdog systemd armed for this process (`WatchdogSec=` in the unit), as systemd passes
/// it: `$WATCHDOG_USEC` and, to keep children from acting on a parent's watchdog, `$WATCHDOG_PID`.
public struct WatchdogSettings: Sendable, Hashable {
    /// The full timeout in microseconds; keep-alives should go out at half of it.
    public let timeoutMicroseconds: UInt64

    /// How often to send WATCHDOG=1: half the timeout, as sd_watchdog_enabled(3) advises.
    public var keepAliveIntervalMicroseconds: UInt64 { timeoutMicroseconds / 2 }

    /// The watchdog for this process, or nil when none is armed or it belongs to another process.
    public static func fromEnvironment() -> WatchdogSettings? {
        parse(usec: ProcessEnvironment.value("WATCHDOG_USEC"), pid: ProcessEnvironment.value("WATCHDOG_PID"), ownPID: getpid())
    }

    /// Pure parsing, for tests: a timeout that is not a positive number, or a WATCHDOG_PID that
    /// is not ours, means no watchdog.
    public static func parse(usec: String?, pid: String?, ownPID: pid_t) -> WatchdogSettings? {
        guard let usec, let value = UInt64(usec), value > 0 else { return nil }
        if let pid, !pid.isEmpty {
            guard let owner = pid_t(pid), owner == ownPID else { return nil }
        }
        return WatchdogSettings(timeoutMicroseconds: value)
    }

    public init(timeoutMicroseconds: UInt64) { self.timeoutMicroseconds = timeoutMicroseconds }
}

/// Reads the process environment without Foundation (getenv).
public enum ProcessEnvironment {
    /// The value of `name`, or nil when unset.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for ch in self { out.append(ch == "\n" || ch == "\r\n" || ch == "\r" ? " " : ch) }
        return out
    }
}

/// Whether a descriptor is the stream systemd connected to the journal: systemd sets
/// `$JOURNAL_STREAM` to `DEVICE:INODE` of that stream, and the check against fstat keeps a
/// child whose stderr was redirected elsewhere from taking the inherited variable at its word.
public enum SystemdJournalStream {
    public static func isJournal(_ fd: Int32 = 2) -> Bool {
        isJournal(fd, journalStream: ProcessEnvironment.value("JOURNAL_STREAM"))
    }

    public static func isJournal(_ fd: Int32, journalStream: String?) -> Bool {
        guard let journalStream, let identity = identity(of: fd) else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        return identity.device == device && identity.inode == inode
    }

    /// `DEVICE:INODE` of a descriptor, in the form systemd writes to `$JOURNAL_STREAM`.
    public static func identity(of fd: Int32) -> (device: UInt64, inode: UInt64)? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }
}
