import LinuxNetlink
import LinuxPrimitives

/// One cgroup's `cpu.stat`, in the kernel's microseconds. Optional fields exist only where the
/// cpu controller is enabled (pure cgroup v2); the base three exist on every cgroup2 mount.
public struct CPUUsage: Sendable, Equatable {
    public var usageMicros: UInt64
    public var userMicros: UInt64
    public var systemMicros: UInt64
    public var periods: UInt64?
    public var throttledPeriods: UInt64?
    public var throttledMicros: UInt64?
    public var burstPeriods: UInt64?
    public var burstMicros: UInt64?

    public init(usageMicros: UInt64, userMicros: UInt64, systemMicros: UInt64) {
        self.usageMicros = usageMicros
        self.userMicros = userMicros
        self.systemMicros = systemMicros
    }
}

/// Where a memory sample came from. On hybrid hosts (cgroup v1 controllers, an empty cgroup2
/// mount) there is no `memory.current`; the fallback sums `/proc/PID/smaps_rollup` over the
/// cgroup's processes, which sees resident and swapped process memory but not the page cache
/// charged to the cgroup, so the cache-related series are left out rather than guessed.
public enum MemorySource: String, Sendable, Equatable {
    /// memory.current / memory.stat / memory.events of a cgroup with the memory controller.
    case cgroup
    /// Σ smaps_rollup over the cgroup's processes: usage = working set = Σ Pss,
    /// rss = Σ Pss_Anon, mapped_file = Σ Pss_File, swap = Σ SwapPss.
    case processes
    /// The whole node from /proc/meminfo: usage = MemTotal − MemFree, working set = usage −
    /// Inactive(file), rss = AnonPages, cache = Cached, mapped_file = Mapped.
    case meminfo
}

/// Memory of one cgroup; nil fields have no source on this host and are not emitted.
public struct MemoryUsage: Sendable, Equatable {
    public var source: MemorySource
    public var usageBytes: UInt64?
    public var workingSetBytes: UInt64?
    public var maxUsageBytes: UInt64?
    public var rssBytes: UInt64?
    public var cacheBytes: UInt64?
    public var mappedFileBytes: UInt64?
    public var swapBytes: UInt64?
    public var kernelBytes: UInt64?
    public var activeFileBytes: UInt64?
    public var inactiveFileBytes: UInt64?
    public var fileDirtyBytes: UInt64?
    public var fileWritebackBytes: UInt64?
    public var pgscan: UInt64?
    public var pgsteal: UInt64?
    public var workingsetRefaultFile: UInt64?
    public var workingsetRefaultAnon: UInt64?
    public var pageFaults: UInt64?
    public var majorPageFaults: UInt64?
    /// memory.events `max`: times usage hit the limit (cAdvisor's failcnt on cgroup v2).
    public var eventsMax: UInt64?
    public var eventsHigh: UInt64?
    public var oomKills: UInt64?
    /// memory.max, nil when unlimited or unknown.
    public var limitBytes: UInt64?

    public init(source: MemorySource) {
        self.source = source
    }
}

/// PSI `total=` values (microseconds stalled) from cpu/memory/io.pressure. cAdvisor calls
/// `some` waiting and `full` stalled.
public struct PressureTotals: Sendable, Equatable {
    public var cpuSome: UInt64?
    public var cpuFull: UInt64?
    public var memorySome: UInt64?
    public var memoryFull: UInt64?
    public var ioSome: UInt64?
    public var ioFull: UInt64?
    public init() {}
}

/// Processes, threads and descriptors of a cgroup (recursively).
public struct ProcessUsage: Sendable, Equatable {
    public var processes: UInt64
    public var threads: UInt64
    /// pids.max when it is a number.
    public var threadsMax: UInt64?
    public var fileDescriptors: UInt64?
    public var sockets: UInt64?
    /// Soft RLIMIT_NOFILE of the cgroup's first process (cAdvisor reports only this one).
    public var openFilesSoftLimit: UInt64?

    public init(processes: UInt64, threads: UInt64) {
        self.processes = processes
        self.threads = threads
    }
}

/// One device line of io.stat (cgroup v2); the io controller must be enabled.
public struct IODeviceUsage: Sendable, Equatable {
    public var device: DeviceNumber
    /// "/dev/NAME" from /proc/partitions, or "MAJ:MIN" when unknown.
    public var name: String
    public var readBytes: UInt64
    public var writeBytes: UInt64
    public var reads: UInt64
    public var writes: UInt64
    /// iocost accounting (microseconds), only with the iocost controller configured.
    public var costUsageMicros: UInt64?
    public var costWaitMicros: UInt64?
    public var costIndebtMicros: UInt64?
    public var costIndelayMicros: UInt64?

    public init(device: DeviceNumber, name: String, readBytes: UInt64, writeBytes: UInt64, reads: UInt64, writes: UInt64) {
        self.device = device
        self.name = name
        self.readBytes = readBytes
        self.writeBytes = writeBytes
        self.reads = reads
        self.writes = writes
    }
}

/// Limits read back from a cgroup's own files (cpu.max, cpu.weight, memory.max, ...), used for
/// pod cgroups whose limits are not handed in by the runtime.
public struct CgroupLimits: Sendable, Equatable {
    public var cpuQuota: Int64?
    public var cpuPeriod: UInt64?
    public var cpuShares: UInt64?
    public var memoryLimitBytes: UInt64?
    public var memorySwapLimitBytes: UInt64?
    public var memoryReservationBytes: UInt64?
    public init() {}
}

/// Everything sampled from one cgroup in one round; a nil part had no source.
public struct CgroupSample: Sendable, Equatable {
    public var cpu: CPUUsage?
    public var memory: MemoryUsage?
    public var pressure: PressureTotals?
    public var processes: ProcessUsage?
    public var io: [IODeviceUsage]
    public var limits: CgroupLimits?
    /// Non-fatal problems reading this cgroup (cAdvisor's container_scrape_error).
    public var errors: [String]

    public init() {
        io = []
        errors = []
    }
}

/// Usage of one directory (last completed walk) on its filesystem.
public struct FilesystemUsage: Sendable, Equatable {
    public var path: String
    /// "/dev/vda", "tmpfs", ... (cAdvisor's `device` label).
    public var device: String
    public var capacity: FilesystemCapacity
    /// nil until the first walk of the directory has finished.
    public var used: DirectoryUsageWalker.Usage?
    /// Seconds since the epoch when `used` was measured.
    public var usedTime: Double?

    public init(path: String, device: String, capacity: FilesystemCapacity, used: DirectoryUsageWalker.Usage?, usedTime: Double?) {
        self.path = path
        self.device = device
        self.capacity = capacity
        self.used = used
        self.usedTime = usedTime
    }
}

/// Interfaces of one network namespace, loopback left out (as cAdvisor does).
public struct NetworkUsage: Sendable, Equatable {
    public var interfaces: [InterfaceCounters]
    /// Seconds since the epoch.
    public var time: Double

    public init(interfaces: [InterfaceCounters], time: Double) {
        self.interfaces = interfaces
        self.time = time
    }
}
