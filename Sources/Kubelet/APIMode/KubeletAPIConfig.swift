import KubeClient
import NIOSSL

/// What the kubelet needs to work against an API server (`swiftlet agent --kubeconfig`).
public struct KubeletAPIConfig: Sendable {
    public var client: KubeClient
    public var nodeIP: String
    public var podCIDR: String
    /// The authenticated kubelet port (10250): HTTPS, client certificates of the cluster CA.
    public var port: Int
    public var tls: TLSConfiguration
    public var maxPods: Int
    /// `--kube-reserved` + `--system-reserved`, in milli-CPU ("cpu") and bytes ("memory").
    public var reserved: [String: Int64]
    /// nil when the pod network is ready, else why not.
    public var networkReadiness: @Sendable () async -> String?
    /// kubelet's `nodeLeaseDurationSeconds`: the Lease is renewed every quarter of it.
    public var nodeLeaseDurationSeconds = 40

    public init(client: KubeClient, nodeIP: String, podCIDR: String, port: Int = 10250, tls: TLSConfiguration, maxPods: Int = 110,
                reserved: [String: Int64] = [:], networkReadiness: @escaping @Sendable () async -> String? = { nil }) {
        self.client = client
        self.nodeIP = nodeIP
        self.podCIDR = podCIDR
        self.port = port
        self.tls = tls
        self.maxPods = maxPods
        self.reserved = reserved
        self.networkReadiness = networkReadiness
    }
}
