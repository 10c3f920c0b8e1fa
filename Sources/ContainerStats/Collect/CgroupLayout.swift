import LinuxPrimitives

/// Where the cgroup2 hierarchy is mounted and whether it carries the controllers.
///
/// - `unified`: pure cgroup v2 at /sys/fs/cgroup; cpu, memory, io and pids files exist
///   wherever the controllers are enabled.
/// - `hybrid`: cgroup v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
///   with no controllers: cpu.stat (usage/user/system), PSI files and cgroup.procs/threads
///   exist, memory.*, io.* and pids.* do not. Memory then falls back to per-process
///   accounting (see `MemorySource.processes`).
public struct CgroupLayout: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unified
        case hybrid
    }

    public var kind: Kind
    /// The cgroup2 mount point; cgroup paths are relative to it.
    public var mountPoint: String
    /// Controllers available at the root (`cgroup.controllers`).
    public var controllers: Set<String>

    public init(kind: Kind, mountPoint: String, controllers: Set<String>) {
        self.kind = kind
        self.mountPoint = mountPoint
        self.controllers = controllers
    }

    /// Finds the cgroup2 mount from /proc/self/mountinfo: pure v2 at /sys/fs/cgroup, or hybrid
    /// (cgroup2 elsewhere, typically /sys/fs/cgroup/unified, next to v1 controller mounts).
    public static func detect(mountinfoPath: String = "/proc/self/mountinfo") throws -> CgroupLayout {
        guard let bytes = try KernelFile.read(mountinfoPath) else {
            throw StatsError.noCgroup2Mount("\(mountinfoPath) is missing")
        }
        return try detect(mounts: KernelText.mountinfo(bytes))
    }

    static func detect(mounts: [KernelText.Mount]) throws -> CgroupLayout {
        let v2 = mounts.filter { $0.fsType == "cgroup2" }
        let hasV1 = mounts.contains { $0.fsType == "cgroup" }
        let chosen = v2.first { $0.mountPoint == "/sys/fs/cgroup" }
            ?? v2.first { $0.mountPoint == "/sys/fs/cgroup/unified" }
            ?? v2.first
        guard let mount = chosen else {
            throw StatsError.noCgroup2Mount("no cgroup2 filesystem in /proc/self/mountinfo")
        }
        let kind: Kind = (mount.mountPoint == "/sys/fs/cgroup" && !hasV1) ? .unified : (hasV1 ? .hybrid : .unified)
        let controllerBytes = (try? KernelFile.read(mount.mountPoint + "/cgroup.controllers")) ?? nil
        let controllers = Set(controllerBytes.map { KernelText.words($0) } ?? [])
        return CgroupLayout(kind: kind, mountPoint: mount.mountPoint, controllers: controllers)
    }

    /// Absolute directory of a cgroup given relative to the mount ("/kubepods/pod1").
    public func directory(of cgroupPath: String) -> String {
        let relative = CgroupLayout.normalize(cgroupPath)
        return relative == "/" ? mountPoint : mountPoint + relative
    }

    /// "/a/b" form: one leading slash, no trailing slash; "" and "/" are the root.
    public static func normalize(_ path: String) -> String {
        // Fast path: already "/a/b" (what the agent hands in), checked on bytes.
        var previous: UInt8 = 0
        var clean = path.utf8.first == 0x2F
        for byte in path.utf8 where clean {
            if byte == 0x2F && previous == 0x2F { clean = false }
            previous = byte
        }
        if clean && (previous != 0x2F || path.utf8.count == 1) { return path }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return "/" + parts.joined(separator: "/")
    }

    public var description: String {
        "\(kind.rawValue) cgroup2 at \(mountPoint) (controllers: \(controllers.sorted().joined(separator: " ")))"
    }
}

public enum StatsError: Error, CustomStringConvertible, Equatable {
    case noCgroup2Mount(String)
    case invalidDuration(String)

    public var description: String {
        switch self {
        case .noCgroup2Mount(let why): return "no cgroup2 hierarchy to read stats from: \(why)"
        case .invalidDuration(let text): return "invalid duration \"\(text)\": expected a number with a unit, e.g. 10s, 500ms, 1m30s"
        }
    }
}
