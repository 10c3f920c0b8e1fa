/// `v1.Service`, with the fields a node's service proxy acts on. Field names and defaults
/// follow the Kubernetes API exactly; defaults the API server would fill in are applied by
/// the accessors below, so objects straight from a manifest behave like stored ones.
public struct Service: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    public var status: ServiceStatus?

    public init(metadata: ObjectMeta, spec: ServiceSpec, status: ServiceStatus? = nil) {
        self.apiVersion = "v1"
        self.kind = "Service"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct ServiceSpec: Codable, Sendable, Equatable {
    public var ports: [ServicePort]?
    public var selector: [String: String]?
    /// `None` marks a headless service (no virtual IP).
    public var clusterIP: String?
    public var clusterIPs: [String]?
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String?
    public var externalIPs: [String]?
    /// `None` (default) or `ClientIP`.
    public var sessionAffinity: String?
    public var sessionAffinityConfig: SessionAffinityConfig?
    public var loadBalancerIP: String?
    public var loadBalancerSourceRanges: [String]?
    public var externalName: String?
    /// `Cluster` (default) or `Local` (`Local` was once spelled `OnlyLocal`).
    public var externalTrafficPolicy: String?
    /// `Cluster` (default) or `Local`.
    public var internalTrafficPolicy: String?
    public var healthCheckNodePort: Int32?
    public var publishNotReadyAddresses: Bool?
    /// `IPv4`, `IPv6`.
    public var ipFamilies: [String]?
    /// `SingleStack`, `PreferDualStack`, `RequireDualStack`.
    public var ipFamilyPolicy: String?
    public var allocateLoadBalancerNodePorts: Bool?
    public var loadBalancerClass: String?
    public var trafficDistribution: String?

    public init(ports: [ServicePort]? = nil, clusterIP: String? = nil, type: String? = nil) {
        self.ports = ports
        self.clusterIP = clusterIP
        self.clusterIPs = clusterIP.map { [$0] }
        self.type = type
    }

    /// The virtual IPs: `clusterIPs` when set, else `clusterIP`; empty for headless services.
    public var effectiveClusterIPs: [String] {
        let ips = clusterIPs ?? clusterIP.map { [$0] } ?? []
        return ips.filter { !$0.isEmpty && $0 != "None" }
    }

    public var isHeadless: Bool { clusterIP == "None" || clusterIPs?.first == "None" }
    public var effectiveType: String { type ?? "ClusterIP" }
}

public struct ServicePort: Codable, Sendable, Equatable {
    public var name: String?
    /// `TCP` (default), `UDP` or `SCTP`.
    public var protocol_: String?
    public var appProtocol: String?
    public var port: Int32
    /// A number, or the name of a container port; defaults to `port`.
    public var targetPort: IntOrString?
    public var nodePort: Int32?

    enum CodingKeys: String, CodingKey {
        case name, appProtocol, port, targetPort, nodePort
        case protocol_ = "protocol"
    }

    public init(name: String? = nil, protocol_: String? = nil, port: Int32, targetPort: IntOrString? = nil, nodePort: Int32? = nil) {
        self.name = name
        self.protocol_ = protocol_
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }
}

public struct SessionAffinityConfig: Codable, Sendable, Equatable {
    public var clientIP: ClientIPConfig?

    public init(clientIP: ClientIPConfig? = nil) { self.clientIP = clientIP }
}

public struct ClientIPConfig: Codable, Sendable, Equatable {
    /// Seconds a client stays with its endpoint; default 10800 (3 h), at most 86400.
    public var timeoutSeconds: Int32?

    public init(timeoutSeconds: Int32? = nil) { self.timeoutSeconds = timeoutSeconds }

    public static let defaultTimeoutSeconds: Int32 = 10800
}

public struct ServiceStatus: Codable, Sendable, Equatable {
    public var loadBalancer: LoadBalancerStatus?

    public init(loadBalancer: LoadBalancerStatus? = nil) { self.loadBalancer = loadBalancer }
}

public struct LoadBalancerStatus: Codable, Sendable, Equatable {
    public var ingress: [LoadBalancerIngress]?

    public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
}

public struct LoadBalancerIngress: Codable, Sendable, Equatable {
    public var ip: String?
    public var hostname: String?
    /// `VIP` (default: the proxy captures traffic to `ip`) or `Proxy`.
    public var ipMode: String?
    public var ports: [PortStatus]?

    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
    }
}

public struct PortStatus: Codable, Sendable, Equatable {
    public var port: Int32
    public var protocol_: String
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case port, error
        case protocol_ = "protocol"
    }
}
