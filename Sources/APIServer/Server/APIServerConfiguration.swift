/// Everything the API server needs to start, as a value: the CLI fills it from flags, and
/// `swiftlet up` (or a test) builds one to run the server in-process.
public struct APIServerConfiguration: Sendable {
    /// Holds the SQLite file, the CA and serving certificates and the admin kubeconfig.
    public var dataDir: String
    /// kube-apiserver's `--bind-address`.
    public var bindAddress: String = "127.0.0.1"
    /// kube-apiserver's `--secure-port`; 0 picks a free port (reported when ready).
    public var securePort: Int = 6443
    /// kube-apiserver's `--service-cluster-ip-range` (IPv4).
    public var serviceClusterIPRange: String = "10.96.0.0/12"
    /// kube-apiserver's `--token-auth-file`: `token,user,uid,"group1,group2"` lines.
    public var tokenAuthFile: String?
    /// Extra names and addresses for the serving certificate.
    public var extraSANs: [String] = []
    /// Runs the scheduler and the controllers in-process (off only for tests of pure REST).
    public var runControllers = true
    public var controllers = ControllerSettings()
    /// How many recent changes a watch may resume from before it gets 410 Gone.
    public var watchWindowEvents = 10_000
    public var watchWindowBytes = 4 << 20
    /// How often idle watches that asked for bookmarks receive one.
    public var bookmarkInterval: Duration = .seconds(60)
    /// Watches without `timeoutSeconds` end after a random time in this range (seconds), as
    /// upstream's `--min-request-timeout` spreads reconnects.
    public var watchTimeout: ClosedRange<Int> = 1800...3600

    public init(dataDir: String) { self.dataDir = dataDir }
}

/// Timings of the in-process controllers, upstream's defaults.
public struct ControllerSettings: Sendable {
    /// A node whose Lease and Ready heartbeat are older than this turns `Ready=Unknown`
    /// (kube-controller-manager's `--node-monitor-grace-period`).
    public var nodeMonitorGracePeriod: Duration = .seconds(50)
    public var nodeMonitorPeriod: Duration = .seconds(5)
    /// Full re-sync of every controller, in case an event was missed.
    public var resyncPeriod: Duration = .seconds(30)
    /// Pods on a gone node, or terminating past their grace on a node that stopped answering,
    /// are removed after this (pod GC).
    public var terminatedPodGracePeriod: Duration = .seconds(60)

    public init() {}
}

/// Where a started server can be reached, for embedders and tests.
public struct APIServerEndpoint: Sendable {
    public let url: String
    public let port: Int
    public let adminKubeconfigPath: String
    public let caCertificatePath: String
    public let adminToken: String
}
