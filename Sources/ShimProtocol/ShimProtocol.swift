import LinuxPrimitives

/// What the agent and a pod's shim say to each other, and where the shim keeps its files in the
/// sandbox directory. Foundation-free: the shim links only this, LinuxPrimitives and CLinux.
public enum ShimProtocol {
    public enum Op: String, Sendable {
        case start, kill, exec, state, events, shutdown, reopenLog = "reopen-log", ping
        /// Attach to a running container's stdio (descriptors passed: stdin, stdout, stderr).
        case attach
        /// Set the window size of a tty container's terminal.
        case resize
    }

    /// Files inside a sandbox directory.
    public enum Paths {
        public static func socket(_ sandboxDir: String) -> String { sandboxDir + "/shim.sock" }
        public static func config(_ sandboxDir: String) -> String { sandboxDir + "/shim.conf" }
        public static func pidFile(_ sandboxDir: String) -> String { sandboxDir + "/shim.pid" }
        public static func log(_ sandboxDir: String) -> String { sandboxDir + "/shim.log" }
        public static func namespace(_ sandboxDir: String, _ kind: NamespaceKind) -> String { sandboxDir + "/ns/" + kind.rawValue }
        public static func shm(_ sandboxDir: String) -> String { sandboxDir + "/shm" }
        public static func containerDir(_ sandboxDir: String, _ id: String) -> String { sandboxDir + "/containers/" + id }
        public static func spawnSpec(_ sandboxDir: String, _ id: String) -> String { containerDir(sandboxDir, id) + "/spawn" }
        public static func state(_ sandboxDir: String, _ id: String) -> String { containerDir(sandboxDir, id) + "/state" }
    }

    public static func request(_ op: Op, _ fields: [(String, String)] = []) -> Records {
        var r = Records()
        r.append("op", op.rawValue)
        for (k, v) in fields { r.append(k, v) }
        return r
    }
}

/// The shim's start-up configuration, written by the agent before it launches the shim.
public struct ShimConfig: Sendable, Equatable {
    public var sandboxID: String = ""
    public var hostname: String = ""
    public var newNetwork = true
    public var newIPC = true
    public var newUTS = true
    public var sharedPID = false
    /// Absolute cgroup directory the shim moves itself into (a leaf of the pod cgroup).
    public var cgroupDir: String = ""
    /// Size of the pod's /dev/shm tmpfs in bytes (0: no shared shm; containers get their own).
    public var shmSize: Int64 = 64 * 1024 * 1024
    /// Namespaced sysctls (`net.ipv4.ip_unprivileged_port_start=0`) set inside the pod's namespaces.
    public var sysctls: [String] = []

    public init() {}

    public func records() -> Records {
        var r = Records()
        r.append("sandbox", sandboxID)
        r.append("hostname", hostname)
        r.append("net", newNetwork)
        r.append("ipc", newIPC)
        r.append("uts", newUTS)
        r.append("pid", sharedPID)
        r.append("cgroup", cgroupDir)
        r.append("shm", shmSize)
        for s in sysctls { r.append("sysctl", s) }
        return r
    }

    public init?(records r: Records) {
        guard let id = r.string("sandbox") else { return nil }
        sandboxID = id
        hostname = r.string("hostname") ?? ""
        newNetwork = r.bool("net")
        newIPC = r.bool("ipc")
        newUTS = r.bool("uts")
        sharedPID = r.bool("pid")
        cgroupDir = r.string("cgroup") ?? ""
        shmSize = r.int64("shm") ?? 0
        sysctls = r.strings("sysctl")
    }
}

/// A container's process state as the shim records it (atomically, in `Paths.state`).
public struct ShimContainerState: Sendable, Equatable {
    public var pid: Int32 = 0
    /// Wall-clock nanoseconds since the epoch.
    public var startedAt: Int64 = 0
    public var exited = false
    public var exitCode: Int32 = 0
    /// Terminating signal, 0 when the process exited by itself.
    public var signal: Int32 = 0
    public var finishedAt: Int64 = 0
    /// memory.events `oom_kill` at exit, -1 when the memory controller is not there.
    public var oomKills: Int = -1
    /// Set when the process could not be started at all (the spawn step and errno).
    public var startError: String = ""

    public init() {}

    public func records() -> Records {
        var r = Records()
        r.append("pid", pid)
        r.append("started", startedAt)
        r.append("exited", exited)
        r.append("exit_code", exitCode)
        r.append("signal", signal)
        r.append("finished", finishedAt)
        r.append("oom_kills", oomKills)
        r.append("start_error", startError)
        return r
    }

    public init(records r: Records) {
        pid = Int32(truncatingIfNeeded: r.int("pid") ?? 0)
        startedAt = r.int64("started") ?? 0
        exited = r.bool("exited")
        exitCode = Int32(truncatingIfNeeded: r.int("exit_code") ?? 0)
        signal = Int32(truncatingIfNeeded: r.int("signal") ?? 0)
        finishedAt = r.int64("finished") ?? 0
        oomKills = r.int("oom_kills") ?? -1
        startError = r.string("start_error") ?? ""
    }

    public static func load(_ path: String) -> ShimContainerState? {
        guard let bytes = try? FileSystem.readBytes(path), let r = Records.decode(bytes) else { return nil }
        return ShimContainerState(records: r)
    }
}
