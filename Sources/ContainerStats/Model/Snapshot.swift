/// The result of one housekeeping round: immutable, shared by every renderer, so a scrape is
/// formatting only.
public struct StatsSnapshot: Sendable {
    /// Seconds since the epoch when the round started.
    public var time: Double
    public var machine: MachineInfo
    public var node: NodeSnapshot
    public var pods: [PodSnapshot]
    /// How long the round took (seconds), for the agent's own metrics.
    public var collectionSeconds: Double

    public init(time: Double, machine: MachineInfo, node: NodeSnapshot, pods: [PodSnapshot], collectionSeconds: Double) {
        self.time = time
        self.machine = machine
        self.node = node
        self.pods = pods
        self.collectionSeconds = collectionSeconds
    }
}

public struct ContainerSnapshot: Sendable {
    public var target: ContainerTarget
    public var sample: CgroupSample
    /// CPU rate between the previous round and this one, in nanocores (Summary usageNanoCores).
    public var usageNanoCores: UInt64?
    public var rootfs: FilesystemUsage?
    public var logs: FilesystemUsage?
}

public struct PodSnapshot: Sendable {
    public var target: PodTarget
    /// The pod cgroup itself (recursive over its containers); nil when it has no cgroup.
    public var sample: CgroupSample?
    public var usageNanoCores: UInt64?
    public var containers: [ContainerSnapshot]
    public var network: NetworkUsage?
    public var volumes: [(name: String, usage: FilesystemUsage)]
}

public struct SystemContainerSnapshot: Sendable {
    public var target: SystemContainerTarget
    public var sample: CgroupSample
    public var usageNanoCores: UInt64?
}

public struct NodeSnapshot: Sendable {
    public var target: NodeTarget
    public var startTime: Double
    public var cpu: CPUUsage?
    public var usageNanoCores: UInt64?
    /// From /proc/meminfo and /proc/vmstat (`MemorySource.meminfo`): the root cgroup has no
    /// memory.current.
    public var memory: MemoryUsage?
    public var memoryTotalBytes: UInt64?
    public var pressure: PressureTotals?
    public var network: NetworkUsage?
    /// Filesystem of the agent's root directory (used = capacity − free).
    public var rootFilesystem: FilesystemUsage?
    /// Filesystem holding images, with the image directory's own usage.
    public var imageFilesystem: FilesystemUsage?
    /// Every block-device filesystem mounted, for the "/" series (used = capacity − free).
    public var mountedFilesystems: [FilesystemUsage]
    public var systemContainers: [SystemContainerSnapshot]
    /// /proc/sys/kernel/pid_max and the current task count (Summary rlimit).
    public var maxPID: UInt64?
    public var currentProcesses: UInt64?
    public var errors: [String]
}
