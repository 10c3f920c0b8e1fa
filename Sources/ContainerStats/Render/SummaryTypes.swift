/// The kubelet Summary API (`/stats/summary`, stats/v1alpha1) as JSON: field names and
/// omission rules follow upstream (absent optional values are left out, like Go's omitempty).
public enum SummaryAPI {
    public struct Summary: Encodable, Sendable {
        public var node: NodeStats
        public var pods: [PodStats]
    }

    public struct NodeStats: Encodable, Sendable {
        public var nodeName: String
        public var systemContainers: [ContainerStats]?
        public var startTime: String
        public var cpu: CPUStats?
        public var memory: MemoryStats?
        public var network: NetworkStats?
        public var fs: FsStats?
        public var runtime: RuntimeStats?
        public var rlimit: RlimitStats?
        public var swap: SwapStats?
    }

    public struct PodReference: Encodable, Sendable {
        public var name: String
        public var namespace: String
        public var uid: String
    }

    public struct PodStats: Encodable, Sendable {
        public var podRef: PodReference
        public var startTime: String
        public var containers: [ContainerStats]
        public var cpu: CPUStats?
        public var memory: MemoryStats?
        public var network: NetworkStats?
        public var volume: [VolumeStats]?
        public var ephemeralStorage: FsStats?
        public var processStats: ProcessStats?
        public var swap: SwapStats?

        enum CodingKeys: String, CodingKey {
            case podRef, startTime, containers, cpu, memory, network, volume, swap
            case ephemeralStorage = "ephemeral-storage"
            case processStats = "process_stats"
        }
    }

    public struct ContainerStats: Encodable, Sendable {
        public var name: String
        public var startTime: String
        public var cpu: CPUStats?
        public var memory: MemoryStats?
        public var rootfs: FsStats?
        public var logs: FsStats?
        public var swap: SwapStats?
    }

    public struct CPUStats: Encodable, Sendable {
        public var time: String
        public var usageNanoCores: UInt64?
        public var usageCoreNanoSeconds: UInt64?
    }

    public struct MemoryStats: Encodable, Sendable {
        public var time: String
        public var availableBytes: UInt64?
        public var usageBytes: UInt64?
        public var workingSetBytes: UInt64?
        public var rssBytes: UInt64?
        public var pageFaults: UInt64?
        public var majorPageFaults: UInt64?
    }

    public struct SwapStats: Encodable, Sendable {
        public var time: String
        public var swapAvailableBytes: UInt64?
        public var swapUsageBytes: UInt64?
    }

    public struct InterfaceStats: Encodable, Sendable {
        public var name: String
        public var rxBytes: UInt64?
        public var rxErrors: UInt64?
        public var txBytes: UInt64?
        public var txErrors: UInt64?
    }

    public struct NetworkStats: Encodable, Sendable {
        public var time: String
        public var name: String
        public var rxBytes: UInt64?
        public var rxErrors: UInt64?
        public var txBytes: UInt64?
        public var txErrors: UInt64?
        public var interfaces: [InterfaceStats]?
    }

    public struct FsStats: Encodable, Sendable {
        public var time: String
        public var availableBytes: UInt64?
        public var capacityBytes: UInt64?
        public var usedBytes: UInt64?
        public var inodesFree: UInt64?
        public var inodes: UInt64?
        public var inodesUsed: UInt64?
    }

    public struct VolumeStats: Encodable, Sendable {
        public var time: String
        public var availableBytes: UInt64?
        public var capacityBytes: UInt64?
        public var usedBytes: UInt64?
        public var inodesFree: UInt64?
        public var inodes: UInt64?
        public var inodesUsed: UInt64?
        public var name: String
    }

    public struct RuntimeStats: Encodable, Sendable {
        public var imageFs: FsStats?
        public var containerFs: FsStats?
    }

    public struct RlimitStats: Encodable, Sendable {
        public var time: String
        public var maxpid: UInt64?
        public var curproc: UInt64?
    }

    public struct ProcessStats: Encodable, Sendable {
        public var processCount: UInt64?

        enum CodingKeys: String, CodingKey {
            case processCount = "process_count"
        }
    }
}
