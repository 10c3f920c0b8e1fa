/// `discovery.k8s.io/v1.EndpointSlice`: which addresses back a Service, with their readiness.
/// The slice names its service in the `kubernetes.io/service-name` label.
public struct EndpointSlice: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// `IPv4`, `IPv6` or `FQDN`.
    public var addressType: String
    /// Required by the API, but an empty list may be written as null.
    public var endpoints: [Endpoint]?
    public var ports: [EndpointPort]?

    public init(metadata: ObjectMeta, addressType: String, endpoints: [Endpoint]? = nil, ports: [EndpointPort]? = nil) {
        self.apiVersion = "discovery.k8s.io/v1"
        self.kind = "EndpointSlice"
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    /// The label that ties a slice to its Service.
    public static let serviceNameLabel = "kubernetes.io/service-name"

    public var serviceName: String? { metadata.labels?[Self.serviceNameLabel] }
}

public struct Endpoint: Codable, Sendable, Equatable {
    public var addresses: [String]
    public var conditions: EndpointConditions?
    public var hostname: String?
    public var targetRef: ObjectReference?
    public var nodeName: String?
    public var zone: String?
    public var hints: EndpointHints?

    public init(addresses: [String], conditions: EndpointConditions? = nil, nodeName: String? = nil, zone: String? = nil) {
        self.addresses = addresses
        self.conditions = conditions
        self.nodeName = nodeName
        self.zone = zone
    }
}

/// Readiness as the API defines it: a nil `ready` means ready (unknown state is treated as
/// ready), a nil `serving` takes `ready`'s value, a nil `terminating` means not terminating.
public struct EndpointConditions: Codable, Sendable, Equatable {
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?

    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }

    public var isReady: Bool { ready ?? true }
    public var isServing: Bool { serving ?? isReady }
    public var isTerminating: Bool { terminating ?? false }
}

public struct EndpointHints: Codable, Sendable, Equatable {
    public var forZones: [ForZone]?
    public var forNodes: [ForNode]?
}

public struct ForZone: Codable, Sendable, Equatable {
    public var name: String
}

public struct ForNode: Codable, Sendable, Equatable {
    public var name: String
}

public struct EndpointPort: Codable, Sendable, Equatable {
    public var name: String?
    /// `TCP` (default), `UDP` or `SCTP`.
    public var protocol_: String?
    public var port: Int32?
    public var appProtocol: String?

    enum CodingKeys: String, CodingKey {
        case name, port, appProtocol
        case protocol_ = "protocol"
    }

    public init(name: String? = nil, protocol_: String? = nil, port: Int32? = nil) {
        self.name = name
        self.protocol_ = protocol_
        self.port = port
    }
}

public struct ObjectReference: Codable, Sendable, Equatable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var apiVersion: String?
    public var resourceVersion: String?
    public var fieldPath: String?
}
