/// The host as cAdvisor's MachineInfo describes it (`/spec`, `machine_*` gauges, Summary node
/// start time). Read once at start: none of it changes while the agent runs, except hot-plug,
/// which cAdvisor does not follow either.
public struct MachineInfo: Sendable, Equatable, Encodable {
    public struct Filesystem: Sendable, Equatable, Encodable {
        public var device: String
        public var capacity: UInt64
        public var type: String
        public var inodes: UInt64
        public var hasInodes: Bool

        enum CodingKeys: String, CodingKey {
            case device, capacity, type, inodes
            case hasInodes = "has_inodes"
        }
    }

    public struct Disk: Sendable, Equatable, Encodable {
        public var name: String
        public var major: UInt32
        public var minor: UInt32
        public var size: UInt64
        public var scheduler: String
    }

    public struct NetworkDevice: Sendable, Equatable, Encodable {
        public var name: String
        public var macAddress: String
        public var speed: Int64
        public var mtu: Int64

        enum CodingKeys: String, CodingKey {
            case name, speed, mtu
            case macAddress = "mac_address"
        }
    }

    public struct Core: Sendable, Equatable, Encodable {
        public var coreID: Int
        public var threadIDs: [Int]
        public var socketID: Int

        enum CodingKeys: String, CodingKey {
            case coreID = "core_id"
            case threadIDs = "thread_ids"
            case socketID = "socket_id"
        }
    }

    public struct Node: Sendable, Equatable, Encodable {
        public var id: Int
        public var memory: UInt64
        public var cores: [Core]
    }

    /// Seconds since the epoch when this was read.
    public var timestamp: Double
    public var numCores: Int
    public var numPhysicalCores: Int
    public var numSockets: Int
    public var cpuFrequencyKHz: UInt64
    public var memoryCapacity: UInt64
    public var swapCapacity: UInt64
    public var machineID: String
    public var systemUUID: String
    public var bootID: String
    public var kernelVersion: String
    public var osImage: String
    /// Seconds since the epoch when the host booted (/proc/stat btime).
    public var bootTime: Double
    public var filesystems: [Filesystem]
    public var diskMap: [String: Disk]
    public var networkDevices: [NetworkDevice]
    public var topology: [Node]

    enum CodingKeys: String, CodingKey {
        case timestamp
        case numCores = "num_cores"
        case numPhysicalCores = "num_physical_cores"
        case numSockets = "num_sockets"
        case cpuFrequencyKHz = "cpu_frequency_khz"
        case memoryCapacity = "memory_capacity"
        case swapCapacity = "swap_capacity"
        case machineID = "machine_id"
        case systemUUID = "system_uuid"
        case bootID = "boot_id"
        case kernelVersion = "kernel_version"
        case osImage = "os_image"
        case filesystems
        case diskMap = "disk_map"
        case networkDevices = "network_devices"
        case topology
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(RFC3339.format(timestamp, fractional: true), forKey: .timestamp)
        try container.encode(numCores, forKey: .numCores)
        try container.encode(numPhysicalCores, forKey: .numPhysicalCores)
        try container.encode(numSockets, forKey: .numSockets)
        try container.encode(cpuFrequencyKHz, forKey: .cpuFrequencyKHz)
        try container.encode(memoryCapacity, forKey: .memoryCapacity)
        try container.encode(swapCapacity, forKey: .swapCapacity)
        try container.encode(machineID, forKey: .machineID)
        try container.encode(systemUUID, forKey: .systemUUID)
        try container.encode(bootID, forKey: .bootID)
        try container.encode(kernelVersion, forKey: .kernelVersion)
        try container.encode(osImage, forKey: .osImage)
        try container.encode(filesystems, forKey: .filesystems)
        try container.encode(diskMap, forKey: .diskMap)
        try container.encode(networkDevices, forKey: .networkDevices)
        try container.encode(topology, forKey: .topology)
    }
}
