import CLinux
import Glibc

/// The cgroup v2 hierarchy of this host: pure v2 at /sys/fs/cgroup, or the unified hierarchy
/// of a hybrid host at /sys/fs/cgroup/unified (which groups processes and offers cgroup.kill,
/// cgroup.events and cpu.stat, but usually no controllers, so limits are not enforced there).
public struct CgroupHierarchy: Sendable, Equatable {
    public let mountPoint: String
    public let isHybrid: Bool
    /// Controllers the root offers (`cgroup.controllers`); empty on a typical hybrid host.
    public let rootControllers: Set<String>

    public init(mountPoint: String, isHybrid: Bool, rootControllers: Set<String>) {
        self.mountPoint = mountPoint
        self.isHybrid = isHybrid
        self.rootControllers = rootControllers
    }

    public static func detect() throws -> CgroupHierarchy {
        for (path, hybrid) in [("/sys/fs/cgroup", false), ("/sys/fs/cgroup/unified", true)] where clinux_fs_type(path) == cgroup2Magic {
            return at(path, hybrid: hybrid)
        }
        // Anywhere else it is mounted (mountinfo's fs type field follows the " - " separator).
        if let text = try? FileSystem.readString("/proc/self/mountinfo") {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2", fields.count > 4 else { continue }
                return at(Mounts.unescape(String(fields[4])), hybrid: usesV1Controllers())
            }
        }
        // A fresh /sys with nothing mounted on it (`ip netns exec` remounts /sys in its own mount
        // namespace): mount the v2 hierarchy where it belongs. It is the same hierarchy as the host's.
        let target = "/sys/fs/cgroup"
        if FileSystem.isDirectory(target), ((try? FileSystem.listDirectory(target)) ?? ["x"]).isEmpty {
            try syscall("mount(cgroup2)", path: target) { mount("cgroup2", target, "cgroup2", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil) }
            return at(target, hybrid: usesV1Controllers())
        }
        throw SystemError("statfs(cgroup2)", errno: ENOENT, path: "/sys/fs/cgroup")
    }

    static let cgroup2Magic = 0x6367_7270

    static func at(_ path: String, hybrid: Bool) -> CgroupHierarchy {
        let controllers = (try? FileSystem.readSmall(path + "/cgroup.controllers")) ?? ""
        return CgroupHierarchy(mountPoint: path, isHybrid: hybrid,
                               rootControllers: Set(controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)))
    }

    /// Whether v1 controllers hold this process (lines other than `0::` in /proc/self/cgroup).
    static func usesV1Controllers() -> Bool {
        guard let text = try? FileSystem.readSmall("/proc/self/cgroup") else { return false }
        return text.split(separator: "\n").contains { !$0.hasPrefix("0::") && $0.contains(":") && !$0.hasSuffix(":") }
    }

    /// The absolute directory of a cgroup given by its path inside the hierarchy (`/a/b`).
    public func directory(_ relative: String) -> String {
        relative.hasPrefix("/") ? mountPoint + relative : mountPoint + "/" + relative
    }

    /// The cgroup (relative path) the calling process is in, from /proc/self/cgroup's `0::` line.
    public static func ownCgroup(pid: pid_t? = nil) -> String? {
        let file = pid.map { "/proc/\($0)/cgroup" } ?? "/proc/self/cgroup"
        guard let text = try? FileSystem.readSmall(file) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }
}

/// Limits a container or pod cgroup gets; nil means "leave the default".
public struct CgroupLimits: Sendable, Equatable {
    public var cpuWeight: UInt64?
    /// `cpu.max`: quota and period in microseconds.
    public var cpuMax: (quota: Int64, period: Int64)?
    public var memoryMax: Int64?
    public var pidsMax: Int64?

    public init(cpuWeight: UInt64? = nil, cpuMax: (quota: Int64, period: Int64)? = nil, memoryMax: Int64? = nil, pidsMax: Int64? = nil) {
        self.cpuWeight = cpuWeight
        self.cpuMax = cpuMax
        self.memoryMax = memoryMax
        self.pidsMax = pidsMax
    }

    public static func == (a: CgroupLimits, b: CgroupLimits) -> Bool {
        a.cpuWeight == b.cpuWeight && a.cpuMax?.quota == b.cpuMax?.quota && a.cpuMax?.period == b.cpuMax?.period
            && a.memoryMax == b.memoryMax && a.pidsMax == b.pidsMax
    }

    public var isEmpty: Bool { cpuWeight == nil && cpuMax == nil && memoryMax == nil && pidsMax == nil }
}

/// Creates, limits, kills and removes cgroups below one hierarchy.
public struct CgroupManager: Sendable {
    public let hierarchy: CgroupHierarchy
    public static let wantedControllers = ["cpu", "memory", "pids", "io"]

    public init(hierarchy: CgroupHierarchy) { self.hierarchy = hierarchy }

    /// Creates `relative` and its missing ancestors, enabling the wanted controllers on the way
    /// down where the parent offers them. Returns the absolute directory.
    @discardableResult
    public func create(_ relative: String) throws -> String {
        var current = hierarchy.mountPoint
        for component in relative.split(separator: "/") {
            enableControllers(in: current)
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw SystemError.current("mkdir(cgroup)", path: current) }
        }
        return current
    }

    /// Best effort: a cgroup with processes of its own cannot delegate (no internal processes),
    /// and a hybrid host has nothing to enable; both leave limits unenforced, reported by `apply`.
    func enableControllers(in directory: String) {
        guard let offered = try? FileSystem.readSmall(directory + "/cgroup.controllers") else { return }
        let enabled = (try? FileSystem.readSmall(directory + "/cgroup.subtree_control")) ?? ""
        let offeredSet = Set(offered.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let enabledSet = Set(enabled.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let missing = CgroupManager.wantedControllers.filter { offeredSet.contains($0) && !enabledSet.contains($0) }
        guard !missing.isEmpty else { return }
        try? FileSystem.writeControl(directory + "/cgroup.subtree_control", missing.map { "+" + $0 }.joined(separator: " "))
    }

    /// Writes the limits; returns the names of limits that could not be enforced because the
    /// controller is absent (hybrid hosts), so the caller can say so plainly.
    public func apply(_ limits: CgroupLimits, to relative: String) throws -> [String] {
        let dir = hierarchy.directory(relative)
        var notEnforced: [String] = []
        func write(_ file: String, _ value: String) throws {
            let path = dir + "/" + file
            guard FileSystem.exists(path) else { notEnforced.append(file); return }
            try FileSystem.writeControl(path, value)
        }
        if let w = limits.cpuWeight { try write("cpu.weight", String(w)) }
        if let m = limits.cpuMax { try write("cpu.max", m.quota < 0 ? "max \(m.period)" : "\(m.quota) \(m.period)") }
        if let m = limits.memoryMax { try write("memory.max", String(m)) }
        if let p = limits.pidsMax { try write("pids.max", String(p)) }
        return notEnforced
    }

    /// Pids in the cgroup (not its descendants).
    public func processes(_ relative: String) -> [pid_t] {
        guard let text = try? FileSystem.readSmall(hierarchy.directory(relative) + "/cgroup.procs", limit: 1 << 20) else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Whether any process is in the cgroup or below (`cgroup.events` populated).
    public func isPopulated(_ relative: String) -> Bool {
        guard let events = try? FileSystem.readSmall(hierarchy.directory(relative) + "/cgroup.events") else { return false }
        return events.contains("populated 1")
    }

    /// SIGKILLs every process in the cgroup and below, atomically (`cgroup.kill`, Linux 5.14).
    public func kill(_ relative: String) throws {
        let path = hierarchy.directory(relative) + "/cgroup.kill"
        guard FileSystem.exists(path) else { return }
        try FileSystem.writeControl(path, "1")
    }

    /// Removes the cgroup and its descendants, deepest first. Processes still inside are killed
    /// first and waited for (up to `timeoutMilliseconds`). Missing is fine.
    public func remove(_ relative: String, timeoutMilliseconds: Int = 5000) throws {
        let dir = hierarchy.directory(relative)
        guard FileSystem.isDirectory(dir) else { return }
        if isPopulated(relative) {
            try kill(relative)
            var waited = 0
            while isPopulated(relative) && waited < timeoutMilliseconds {
                usleep(2000)
                waited += 2
            }
        }
        try removeTree(dir)
    }

    private func removeTree(_ dir: String) throws {
        for name in try FileSystem.listDirectory(dir) where FileSystem.isDirectory(dir + "/" + name) {
            try removeTree(dir + "/" + name)
        }
        var attempts = 0
        while rmdir(dir) != 0 {
            let err = errno
            if err == ENOENT { return }
            // A just-killed process may still be leaving the cgroup.
            if err == EBUSY && attempts < 500 {
                attempts += 1
                usleep(2000)
                continue
            }
            throw SystemError("rmdir(cgroup)", errno: err, path: dir)
        }
    }

    /// `oom_kill` from memory.events, when the memory controller is there.
    public func oomKillCount(_ relative: String) -> Int? {
        guard let text = try? FileSystem.readSmall(hierarchy.directory(relative) + "/memory.events") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.dropFirst(9))
        }
        return nil
    }
}
