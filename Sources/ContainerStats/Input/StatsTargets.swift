/// What the agent tells the stats module, once per housekeeping round: which pods and
/// containers exist, which labels they carry, and where their cgroups, network namespace and
/// directories are. The stats module never asks the runtime anything else, so it can be driven
/// by the real runtime in the agent and by synthetic cgroups in tests and benchmarks.
public protocol StatsTargetSource: Sendable {
    /// The current targets. Called at the start of every housekeeping round; it should answer
    /// from memory (the runtime's state), not by scanning disks.
    func statsTargets() async -> StatsTargets
}

/// Everything one housekeeping round samples.
public struct StatsTargets: Sendable, Equatable {
    public var pods: [PodTarget]
    /// Node-level cgroups reported as Summary API `systemContainers` and as `id=` series, e.g.
    /// `SystemContainerTarget(name: "pods", cgroupPath: "/kubepods")`.
    public var systemContainers: [SystemContainerTarget]
    /// The node's own directories, for the node `fs` and `runtime.imageFs` of the Summary API.
    public var node: NodeTarget

    public init(pods: [PodTarget] = [], systemContainers: [SystemContainerTarget] = [], node: NodeTarget = NodeTarget()) {
        self.pods = pods
        self.systemContainers = systemContainers
        self.node = node
    }
}

public struct NodeTarget: Sendable, Equatable {
    /// Kubernetes node name (`node.nodeName` in the Summary API).
    public var nodeName: String
    /// The agent's root directory (kubelet's --root-dir): its filesystem is the node `fs`.
    public var rootDirectory: String
    /// Where image content lives; its filesystem and usage are `runtime.imageFs`. nil: not reported.
    public var imageDirectory: String?

    public init(nodeName: String = "", rootDirectory: String = "/", imageDirectory: String? = nil) {
        self.nodeName = nodeName
        self.rootDirectory = rootDirectory
        self.imageDirectory = imageDirectory
    }
}

public struct SystemContainerTarget: Sendable, Equatable {
    /// Summary API name: "kubelet", "runtime", "pods" or "misc".
    public var name: String
    /// Relative to the cgroup2 mount, with a leading "/".
    public var cgroupPath: String

    public init(name: String, cgroupPath: String) {
        self.name = name
        self.cgroupPath = cgroupPath
    }
}

public struct PodTarget: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var uid: String
    /// The pod's cgroup relative to the cgroup2 mount ("/kubepods/pod<uid>"); its series carry
    /// `container=""`. Empty when the pod has no cgroup of its own.
    public var cgroupPath: String
    /// Seconds since the Unix epoch.
    public var startTime: Double
    /// The pod's network namespace file (e.g. /run/netns/NAME); nil for host-network pods,
    /// whose traffic is the node's and is not attributed to the pod.
    public var networkNamespacePath: String?
    /// emptyDir (and other pod-local) volume directories, reported under `volume[]` and in
    /// the pod's ephemeral storage.
    public var volumes: [VolumeTarget]
    public var containers: [ContainerTarget]

    public init(namespace: String, name: String, uid: String, cgroupPath: String, startTime: Double,
                networkNamespacePath: String? = nil, volumes: [VolumeTarget] = [], containers: [ContainerTarget] = []) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.cgroupPath = cgroupPath
        self.startTime = startTime
        self.networkNamespacePath = networkNamespacePath
        self.volumes = volumes
        self.containers = containers
    }
}

public struct VolumeTarget: Sendable, Equatable {
    /// The volume's name in the pod spec.
    public var name: String
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

public struct ContainerTarget: Sendable, Equatable {
    /// The container's name in the pod spec (`container=` label).
    public var name: String
    /// The runtime's container ID (`name=` label, as cAdvisor shows containerd containers).
    public var id: String
    /// Image reference as the user wrote it (`image=` label).
    public var image: String
    /// Relative to the cgroup2 mount, with a leading "/" (`id=` label).
    public var cgroupPath: String
    /// Seconds since the Unix epoch.
    public var startTime: Double
    /// The container's writable layer (overlay upperdir): its usage is `container_fs_usage_bytes`
    /// and Summary `rootfs`.
    public var writableLayerPath: String?
    /// The directory holding this container's logs: Summary `logs`.
    public var logPath: String?
    public var spec: ContainerSpecLimits

    public init(name: String, id: String, image: String, cgroupPath: String, startTime: Double,
                writableLayerPath: String? = nil, logPath: String? = nil, spec: ContainerSpecLimits = ContainerSpecLimits()) {
        self.name = name
        self.id = id
        self.image = image
        self.cgroupPath = cgroupPath
        self.startTime = startTime
        self.writableLayerPath = writableLayerPath
        self.logPath = logPath
        self.spec = spec
    }
}

/// Limits from the container's spec, for the `container_spec_*` series. nil means unlimited,
/// shown as 0 the way cAdvisor does.
public struct ContainerSpecLimits: Sendable, Equatable {
    /// CFS quota in microseconds per period.
    public var cpuQuota: Int64?
    /// CFS period in microseconds (100000 when unset).
    public var cpuPeriod: UInt64
    /// cgroup v1 style shares (1024 per core requested; 2 when no request).
    public var cpuShares: UInt64?
    public var memoryLimitBytes: UInt64?
    public var memorySwapLimitBytes: UInt64?
    public var memoryReservationBytes: UInt64?

    public init(cpuQuota: Int64? = nil, cpuPeriod: UInt64 = 100_000, cpuShares: UInt64? = nil,
                memoryLimitBytes: UInt64? = nil, memorySwapLimitBytes: UInt64? = nil, memoryReservationBytes: UInt64? = nil) {
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.cpuShares = cpuShares
        self.memoryLimitBytes = memoryLimitBytes
        self.memorySwapLimitBytes = memorySwapLimitBytes
        self.memoryReservationBytes = memoryReservationBytes
    }
}
