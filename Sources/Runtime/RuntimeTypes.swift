import LinuxPrimitives

/// Where the runtime keeps things and how it treats containers by default.
public struct RuntimeConfig: Sendable {
    /// Persistent state: images, writable layers, emptyDir volumes (`--root-dir`).
    public var rootDir: String
    /// Volatile state: sandboxes, shim sockets, pinned namespaces (`--run-dir`).
    public var runDir: String
    /// The subtree of the cgroup v2 hierarchy the runtime owns (`--cgroup-root`), e.g. `/swiftlet`.
    public var cgroupRoot: String
    /// Path of the swiftlet-shim executable.
    public var shimPath: String
    /// Apply `RuntimeDefault` seccomp to containers that ask for no profile (`--seccomp-default`).
    public var seccompDefault: Bool

    public init(rootDir: String, runDir: String, cgroupRoot: String, shimPath: String, seccompDefault: Bool = false) {
        self.rootDir = rootDir
        self.runDir = runDir
        self.cgroupRoot = cgroupRoot.hasPrefix("/") ? cgroupRoot : "/" + cgroupRoot
        self.shimPath = shimPath
        self.seccompDefault = seccompDefault
    }

    public var sandboxesDir: String { runDir + "/sandboxes" }
    public var containersDataDir: String { rootDir + "/containers" }
    public var podsDataDir: String { rootDir + "/pods" }
}

/// How a sandbox's namespace of one kind is shared (CRI NamespaceMode).
public enum NamespaceMode: String, Codable, Sendable {
    case pod, container, node
}

public struct PortMapping: Codable, Sendable, Equatable {
    public var containerPort: Int32
    public var hostPort: Int32
    public var `protocol`: String
    public var hostIP: String

    public init(containerPort: Int32, hostPort: Int32, protocol: String = "TCP", hostIP: String = "") {
        self.containerPort = containerPort
        self.hostPort = hostPort
        self.protocol = `protocol`
        self.hostIP = hostIP
    }
}

public struct DNSConfig: Codable, Sendable, Equatable {
    public var servers: [String]
    public var searches: [String]
    public var options: [String]

    public init(servers: [String] = [], searches: [String] = [], options: [String] = []) {
        self.servers = servers
        self.searches = searches
        self.options = options
    }
}

/// What a pod sandbox is made from (the CRI `PodSandboxConfig`, in Swift terms).
public struct SandboxConfig: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var uid: String
    public var attempt: UInt32
    public var hostname: String
    /// Directory of the pod's container logs (`/var/log/pods/<ns>_<name>_<uid>`).
    public var logDirectory: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var network: NamespaceMode
    public var pid: NamespaceMode
    public var ipc: NamespaceMode
    /// Relative to the runtime's cgroup root, e.g. `kubepods/burstable/pod<uid>`.
    public var cgroupParent: String
    public var dns: DNSConfig?
    public var portMappings: [PortMapping]
    public var sysctls: [String: String]
    /// Extra /etc/hosts lines (`hostAliases`).
    public var hostAliases: [String]

    public init(name: String, namespace: String, uid: String, attempt: UInt32 = 0, hostname: String = "", logDirectory: String = "",
                labels: [String: String] = [:], annotations: [String: String] = [:], network: NamespaceMode = .pod,
                pid: NamespaceMode = .container, ipc: NamespaceMode = .pod, cgroupParent: String = "", dns: DNSConfig? = nil,
                portMappings: [PortMapping] = [], sysctls: [String: String] = [:], hostAliases: [String] = []) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.attempt = attempt
        self.hostname = hostname.isEmpty ? name : hostname
        self.logDirectory = logDirectory
        self.labels = labels
        self.annotations = annotations
        self.network = network
        self.pid = pid
        self.ipc = ipc
        self.cgroupParent = cgroupParent
        self.dns = dns
        self.portMappings = portMappings
        self.sysctls = sysctls
        self.hostAliases = hostAliases
    }
}

/// A host path or a runtime-made file mounted into a container.
public struct ContainerMount: Codable, Sendable, Equatable {
    public var containerPath: String
    public var hostPath: String
    public var readOnly: Bool
    /// Make it a tmpfs of this many bytes instead (hostPath ignored), for Memory-medium volumes
    /// mounted per container; pod-shared tmpfs volumes are host mounts bound as usual.
    public var tmpfsSize: Int64?

    public init(containerPath: String, hostPath: String, readOnly: Bool = false, tmpfsSize: Int64? = nil) {
        self.containerPath = containerPath
        self.hostPath = hostPath
        self.readOnly = readOnly
        self.tmpfsSize = tmpfsSize
    }
}

public enum SeccompChoice: Codable, Sendable, Equatable {
    /// Not set: `RuntimeDefault` when the runtime runs with `--seccomp-default`, else unconfined.
    case unset
    case unconfined
    case runtimeDefault
    /// An OCI/Docker-format JSON profile file on the host.
    case localhost(String)
}

public struct ContainerSecurity: Codable, Sendable, Equatable {
    public var runAsUser: Int64?
    /// A user name from the image's /etc/passwd (CRI `run_as_username`); must exist there.
    public var runAsUsername: String?
    public var runAsGroup: Int64?
    public var supplementalGroups: [Int64]
    public var readOnlyRootfs: Bool
    public var privileged: Bool
    public var addCapabilities: [String]
    public var dropCapabilities: [String]
    public var noNewPrivileges: Bool
    public var seccomp: SeccompChoice
    /// nil: the defaults (containerd's masked and read-only paths); [] when privileged.
    public var maskedPaths: [String]?
    public var readOnlyPaths: [String]?

    public init(runAsUser: Int64? = nil, runAsGroup: Int64? = nil, supplementalGroups: [Int64] = [], readOnlyRootfs: Bool = false,
                privileged: Bool = false, addCapabilities: [String] = [], dropCapabilities: [String] = [],
                noNewPrivileges: Bool = false, seccomp: SeccompChoice = .unset, maskedPaths: [String]? = nil, readOnlyPaths: [String]? = nil) {
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.supplementalGroups = supplementalGroups
        self.readOnlyRootfs = readOnlyRootfs
        self.privileged = privileged
        self.addCapabilities = addCapabilities
        self.dropCapabilities = dropCapabilities
        self.noNewPrivileges = noNewPrivileges
        self.seccomp = seccomp
        self.maskedPaths = maskedPaths
        self.readOnlyPaths = readOnlyPaths
    }
}

public struct ContainerResources: Codable, Sendable, Equatable {
    public var cpuWeight: UInt64?
    public var cpuQuota: Int64?
    public var cpuPeriod: Int64?
    public var memoryLimit: Int64?
    public var pidsLimit: Int64?
    public var oomScoreAdj: Int32?

    public init(cpuWeight: UInt64? = nil, cpuQuota: Int64? = nil, cpuPeriod: Int64? = nil, memoryLimit: Int64? = nil,
                pidsLimit: Int64? = nil, oomScoreAdj: Int32? = nil) {
        self.cpuWeight = cpuWeight
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.memoryLimit = memoryLimit
        self.pidsLimit = pidsLimit
        self.oomScoreAdj = oomScoreAdj
    }

    var cgroupLimits: CgroupLimits {
        CgroupLimits(cpuWeight: cpuWeight, cpuMax: cpuQuota.map { ($0, cpuPeriod ?? 100_000) }, memoryMax: memoryLimit, pidsMax: pidsLimit)
    }
}

/// What a container is made from (the CRI `ContainerConfig`).
public struct ContainerConfig: Codable, Sendable, Equatable {
    public var name: String
    public var attempt: UInt32
    public var image: String
    /// Overrides the image's Entrypoint (Kubernetes `command`).
    public var command: [String]
    /// Overrides the image's Cmd (Kubernetes `args`).
    public var args: [String]
    public var workingDir: String
    /// `NAME=value` pairs, added after the image's environment.
    public var env: [String]
    public var mounts: [ContainerMount]
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Relative to the sandbox's log directory, e.g. `c/0.log`.
    public var logPath: String
    public var resources: ContainerResources
    public var security: ContainerSecurity
    /// Keep stdin open for attached clients (Kubernetes `stdin`).
    public var stdin: Bool
    /// Close stdin when the first attached client detaches (`stdinOnce`).
    public var stdinOnce: Bool
    /// Run with a terminal (`tty`): output is one stream, logged as stdout.
    public var tty: Bool

    public init(name: String, attempt: UInt32 = 0, image: String, command: [String] = [], args: [String] = [], workingDir: String = "",
                env: [String] = [], mounts: [ContainerMount] = [], labels: [String: String] = [:], annotations: [String: String] = [:],
                logPath: String = "", resources: ContainerResources = ContainerResources(), security: ContainerSecurity = ContainerSecurity(),
                stdin: Bool = false, stdinOnce: Bool = false, tty: Bool = false) {
        self.name = name
        self.attempt = attempt
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.env = env
        self.mounts = mounts
        self.labels = labels
        self.annotations = annotations
        self.logPath = logPath
        self.resources = resources
        self.security = security
        self.stdin = stdin
        self.stdinOnce = stdinOnce
        self.tty = tty
    }
}

extension ContainerConfig {
    /// Decodes records written before `stdin`, `stdinOnce` and `tty` existed (as false).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), attempt: try c.decode(UInt32.self, forKey: .attempt),
                  image: try c.decode(String.self, forKey: .image), command: try c.decode([String].self, forKey: .command),
                  args: try c.decode([String].self, forKey: .args), workingDir: try c.decode(String.self, forKey: .workingDir),
                  env: try c.decode([String].self, forKey: .env), mounts: try c.decode([ContainerMount].self, forKey: .mounts),
                  labels: try c.decode([String: String].self, forKey: .labels),
                  annotations: try c.decode([String: String].self, forKey: .annotations),
                  logPath: try c.decode(String.self, forKey: .logPath), resources: try c.decode(ContainerResources.self, forKey: .resources),
                  security: try c.decode(ContainerSecurity.self, forKey: .security),
                  stdin: try c.decodeIfPresent(Bool.self, forKey: .stdin) ?? false,
                  stdinOnce: try c.decodeIfPresent(Bool.self, forKey: .stdinOnce) ?? false,
                  tty: try c.decodeIfPresent(Bool.self, forKey: .tty) ?? false)
    }
}
