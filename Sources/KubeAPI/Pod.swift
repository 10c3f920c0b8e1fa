/// `v1.Pod`, with the fields a node agent acts on. Unknown fields are dropped here: the agent
/// only ever writes `status` (by patch), so nothing a user set is lost.
public struct Pod: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec
    public var status: PodStatus?

    public init(metadata: ObjectMeta, spec: PodSpec, status: PodStatus? = nil) {
        self.apiVersion = "v1"
        self.kind = "Pod"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct PodSpec: Codable, Sendable, Equatable {
    public var volumes: [Volume]?
    public var initContainers: [Container]?
    public var containers: [Container]
    public var restartPolicy: String?
    public var terminationGracePeriodSeconds: Int64?
    public var activeDeadlineSeconds: Int64?
    public var dnsPolicy: String?
    public var nodeSelector: [String: String]?
    public var serviceAccountName: String?
    public var serviceAccount: String?
    public var automountServiceAccountToken: Bool?
    public var nodeName: String?
    public var hostNetwork: Bool?
    public var hostPID: Bool?
    public var hostIPC: Bool?
    public var shareProcessNamespace: Bool?
    public var securityContext: PodSecurityContext?
    public var hostname: String?
    public var subdomain: String?
    public var schedulerName: String?
    public var tolerations: [Toleration]?
    public var priorityClassName: String?
    public var priority: Int32?
    public var dnsConfig: PodDNSConfig?
    public var enableServiceLinks: Bool?
    public var hostAliases: [HostAlias]?
    public var affinity: JSONValue?
    public var runtimeClassName: String?
    public var readinessGates: [JSONValue]?

    public init(containers: [Container]) { self.containers = containers }
}

public struct Container: Codable, Sendable, Equatable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var ports: [ContainerPort]?
    public var envFrom: [EnvFromSource]?
    public var env: [EnvVar]?
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    public var lifecycle: Lifecycle?
    public var terminationMessagePath: String?
    public var terminationMessagePolicy: String?
    public var imagePullPolicy: String?
    public var securityContext: SecurityContext?
    public var stdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?
    /// `Always` on an init container makes it a sidecar (KEP-753).
    public var restartPolicy: String?

    public init(name: String, image: String? = nil, command: [String]? = nil) {
        self.name = name
        self.image = image
        self.command = command
    }
}

public struct ContainerPort: Codable, Sendable, Equatable {
    public var name: String?
    public var containerPort: Int32
    public var hostPort: Int32?
    public var protocol_: String?
    public var hostIP: String?

    enum CodingKeys: String, CodingKey {
        case name, containerPort, hostPort, hostIP
        case protocol_ = "protocol"
    }
}

public struct EnvVar: Codable, Sendable, Equatable {
    public var name: String
    public var value: String?
    public var valueFrom: EnvVarSource?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

public struct EnvVarSource: Codable, Sendable, Equatable {
    public var fieldRef: ObjectFieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public var configMapKeyRef: KeySelector?
    public var secretKeyRef: KeySelector?
}

public struct ObjectFieldSelector: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var fieldPath: String
}

public struct ResourceFieldSelector: Codable, Sendable, Equatable {
    public var containerName: String?
    public var resource: String
    public var divisor: Quantity?
}

public struct KeySelector: Codable, Sendable, Equatable {
    public var name: String?
    public var key: String
    public var optional: Bool?
}

public struct EnvFromSource: Codable, Sendable, Equatable {
    public var prefix: String?
    public var configMapRef: NamedOptional?
    public var secretRef: NamedOptional?
}

public struct NamedOptional: Codable, Sendable, Equatable {
    public var name: String?
    public var optional: Bool?

    public init(name: String?, optional: Bool?) {
        self.name = name
        self.optional = optional
    }
}

public struct ResourceRequirements: Codable, Sendable, Equatable {
    public var limits: [String: Quantity]?
    public var requests: [String: Quantity]?

    public init(limits: [String: Quantity]? = nil, requests: [String: Quantity]? = nil) {
        self.limits = limits
        self.requests = requests
    }
}

public struct VolumeMount: Codable, Sendable, Equatable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?
    public var subPath: String?
    public var subPathExpr: String?
    public var mountPropagation: String?

    public init(name: String, mountPath: String, readOnly: Bool? = nil, subPath: String? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
        self.subPath = subPath
    }
}

public struct Probe: Codable, Sendable, Equatable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var grpc: GRPCAction?
    public var initialDelaySeconds: Int32?
    public var timeoutSeconds: Int32?
    public var periodSeconds: Int32?
    public var successThreshold: Int32?
    public var failureThreshold: Int32?
    public var terminationGracePeriodSeconds: Int64?
}

public struct ExecAction: Codable, Sendable, Equatable {
    public var command: [String]?
}

public struct HTTPGetAction: Codable, Sendable, Equatable {
    public var path: String?
    public var port: IntOrString
    public var host: String?
    public var scheme: String?
    public var httpHeaders: [HTTPHeader]?
}

public struct HTTPHeader: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
}

public struct TCPSocketAction: Codable, Sendable, Equatable {
    public var port: IntOrString
    public var host: String?
}

public struct GRPCAction: Codable, Sendable, Equatable {
    public var port: Int32
    public var service: String?
}

public struct Lifecycle: Codable, Sendable, Equatable {
    public var postStart: LifecycleHandler?
    public var preStop: LifecycleHandler?
}

public struct LifecycleHandler: Codable, Sendable, Equatable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var sleep: SleepAction?
}

public struct SleepAction: Codable, Sendable, Equatable {
    public var seconds: Int64
}

public struct SecurityContext: Codable, Sendable, Equatable {
    public var capabilities: Capabilities?
    public var privileged: Bool?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var procMount: String?
    public var seccompProfile: SeccompProfile?

    public init() {}
}

public struct Capabilities: Codable, Sendable, Equatable {
    public var add: [String]?
    public var drop: [String]?

    public init(add: [String]? = nil, drop: [String]? = nil) {
        self.add = add
        self.drop = drop
    }
}

public struct SeccompProfile: Codable, Sendable, Equatable {
    /// `RuntimeDefault`, `Unconfined` or `Localhost`.
    public var type: String
    public var localhostProfile: String?

    public init(type: String, localhostProfile: String? = nil) {
        self.type = type
        self.localhostProfile = localhostProfile
    }
}

public struct PodSecurityContext: Codable, Sendable, Equatable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var supplementalGroups: [Int64]?
    public var fsGroup: Int64?
    public var sysctls: [Sysctl]?
    public var seccompProfile: SeccompProfile?

    public init() {}
}

public struct Sysctl: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
}

public struct Toleration: Codable, Sendable, Equatable {
    public var key: String?
    public var `operator`: String?
    public var value: String?
    public var effect: String?
    public var tolerationSeconds: Int64?
}

public struct PodDNSConfig: Codable, Sendable, Equatable {
    public var nameservers: [String]?
    public var searches: [String]?
    public var options: [PodDNSConfigOption]?
}

public struct PodDNSConfigOption: Codable, Sendable, Equatable {
    public var name: String?
    public var value: String?
}

public struct HostAlias: Codable, Sendable, Equatable {
    public var ip: String
    public var hostnames: [String]?
}
