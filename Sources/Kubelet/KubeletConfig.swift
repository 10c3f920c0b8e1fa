import LinuxPrimitives

/// The kubelet's settings, named after upstream kubelet flags where one exists.
public struct KubeletConfig: Sendable {
    public var nodeName: String
    /// `--root-dir`: pod volumes live under `<rootDir>/pods/<uid>/volumes`.
    public var rootDir: String
    /// `--pod-manifest-path`: static pods; empty disables the file source.
    public var podManifestPath: String
    /// Where CRI container logs go (`/var/log/pods`).
    public var podLogDir: String
    /// `--read-only-port` on 127.0.0.1 (0 disables).
    public var readOnlyPort: Int
    public var readOnlyAddress: String
    /// `--pod-max-pids`: pids.max of every pod (-1: unlimited, the upstream default).
    public var podPidsLimit: Int64
    /// How often every pod is re-synced even without events.
    public var resyncIntervalSeconds: Double
    /// Whether pod names from static manifests are suffixed with the node name (mirror-pod
    /// style, in API mode); standalone mode keeps the names as written.
    public var suffixStaticPodNames: Bool
    /// Memory capacity, for Burstable pods' oom_score_adj.
    public var memoryCapacity: Int64

    public init(nodeName: String, rootDir: String, podManifestPath: String = "", podLogDir: String = "/var/log/pods",
                readOnlyPort: Int = 10255, readOnlyAddress: String = "127.0.0.1", podPidsLimit: Int64 = -1,
                resyncIntervalSeconds: Double = 10, suffixStaticPodNames: Bool = false, memoryCapacity: Int64 = MachineFacts.memoryBytes()) {
        self.nodeName = nodeName
        self.rootDir = rootDir
        self.podManifestPath = podManifestPath
        self.podLogDir = podLogDir
        self.readOnlyPort = readOnlyPort
        self.readOnlyAddress = readOnlyAddress
        self.podPidsLimit = podPidsLimit
        self.resyncIntervalSeconds = resyncIntervalSeconds
        self.suffixStaticPodNames = suffixStaticPodNames
        self.memoryCapacity = memoryCapacity
    }
}

/// Small facts about this machine the kubelet needs.
public enum MachineFacts {
    public static func memoryBytes() -> Int64 {
        guard let text = try? FileSystem.readSmall("/proc/meminfo") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int64($0) } ?? 0
            return kb * 1024
        }
        return 0
    }

    public static func hostname() -> String {
        ((try? FileSystem.readSmall("/proc/sys/kernel/hostname")) ?? "localhost").split(separator: "\n").first.map { String($0).lowercased() } ?? "localhost"
    }
}
