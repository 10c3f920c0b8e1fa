import KubeAPI

/// `namespace/name` of a Service.
public struct ServiceName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }
    public static func < (a: ServiceName, b: ServiceName) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// Layer-4 protocols a Service port may use.
public enum ServiceProtocol: String, Sendable, Hashable, CaseIterable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"

    public var number: UInt8 {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .sctp: return 132
        }
    }

    public var lowercased: String { rawValue.lowercased() }
}

/// One port of a Service, validated and with defaults applied: what the ruleset is made from.
public struct ServicePortInfo: Sendable, Hashable {
    public let service: ServiceName
    /// The port's name ("" for a single unnamed port): how EndpointSlice ports are matched.
    public let portName: String
    public let proto: ServiceProtocol
    public let port: UInt16
    public let nodePort: UInt16?
    /// One virtual IP per family.
    public let clusterIPs: [IPAddress]
    public let externalIPs: [IPAddress]
    public let loadBalancerIPs: [IPAddress]
    public let loadBalancerSourceRanges: [IPPrefix]
    /// ClientIP affinity timeout in seconds (nil: no affinity).
    public let affinityTimeoutSeconds: UInt32?
    public let externalPolicyLocal: Bool
    public let internalPolicyLocal: Bool
    public let healthCheckNodePort: UInt16?

    /// `namespace/name/proto/portName`, the base of chain names.
    public var nameString: String { "\(service.namespace)/\(service.name)/\(proto.lowercased)/\(portName)" }

    public var externallyAccessible: Bool { nodePort != nil || !externalIPs.isEmpty || !loadBalancerIPs.isEmpty }
    /// As kube-proxy: cluster endpoints serve internal traffic under Cluster policy and the
    /// local-origin short circuit of external traffic.
    public var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }
    public var usesLocalEndpoints: Bool { internalPolicyLocal || (externallyAccessible && externalPolicyLocal) }
}

/// One endpoint address of a service port, from an EndpointSlice.
public struct EndpointInfo: Sendable, Hashable, Comparable {
    public let ip: IPAddress
    public let port: UInt16
    public let ready: Bool
    public let serving: Bool
    public let terminating: Bool
    public let nodeName: String?
    public let zone: String?

    public init(ip: IPAddress, port: UInt16, ready: Bool = true, serving: Bool = true, terminating: Bool = false,
                nodeName: String? = nil, zone: String? = nil) {
        self.ip = ip
        self.port = port
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.nodeName = nodeName
        self.zone = zone
    }

    public var description: String { ip.isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    public static func < (a: EndpointInfo, b: EndpointInfo) -> Bool { (a.ip, a.port) < (b.ip, b.port) }
}

/// Why an object was left out of the ruleset, naming it and the field at fault.
public struct InvalidObjectError: Error, CustomStringConvertible, Sendable, Equatable {
    public let kind: String
    public let object: String
    public let field: String
    public let message: String

    public var description: String { "\(kind) \(object): \(field): \(message); skipped" }
}

extension ServicePortInfo {
    /// Validates a Service and returns its ports (empty for headless and ExternalName
    /// services, which get no virtual IP). Throws naming the first bad field.
    public static func ports(of service: Service) throws -> [ServicePortInfo] {
        let name = ServiceName(namespace: service.metadata.namespace ?? "default", name: service.metadata.name ?? "")
        func bad(_ field: String, _ message: String) -> InvalidObjectError {
            InvalidObjectError(kind: "Service", object: name.description, field: field, message: message)
        }
        guard !name.name.isEmpty else { throw bad("metadata.name", "Required value") }
        let spec = service.spec
        if spec.effectiveType == "ExternalName" || spec.isHeadless { return [] }
        var clusterIPs: [IPAddress] = []
        for (i, text) in spec.effectiveClusterIPs.enumerated() {
            guard let ip = IPAddress(text) else { throw bad("spec.clusterIPs[\(i)]", "invalid IP address \"\(text)\"") }
            if !clusterIPs.contains(where: { $0.family == ip.family }) { clusterIPs.append(ip) }
        }
        if clusterIPs.isEmpty { return [] }
        func ips(_ list: [String]?, _ field: String) throws -> [IPAddress] {
            try (list ?? []).enumerated().map { i, text in
                guard let ip = IPAddress(text) else { throw bad("\(field)[\(i)]", "invalid IP address \"\(text)\"") }
                return ip
            }
        }
        let externalIPs = try ips(spec.externalIPs, "spec.externalIPs")
        var lbIPs: [IPAddress] = []
        if spec.effectiveType == "LoadBalancer" {
            for (i, ingress) in (service.status?.loadBalancer?.ingress ?? []).enumerated() {
                guard let text = ingress.ip, !text.isEmpty, ingress.ipMode ?? "VIP" == "VIP" else { continue }
                guard let ip = IPAddress(text) else { throw bad("status.loadBalancer.ingress[\(i)].ip", "invalid IP address \"\(text)\"") }
                lbIPs.append(ip)
            }
        }
        let ranges = try (spec.loadBalancerSourceRanges ?? []).enumerated().map { i, text in
            guard let p = IPPrefix(text.trimmingSpaces) else { throw bad("spec.loadBalancerSourceRanges[\(i)]", "invalid CIDR \"\(text)\"") }
            return p
        }
        var affinity: UInt32?
        switch spec.sessionAffinity ?? "None" {
        case "None": affinity = nil
        case "ClientIP":
            let t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? ClientIPConfig.defaultTimeoutSeconds
            guard t > 0, t <= 86400 else { throw bad("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "must be in 1..86400, got \(t)") }
            affinity = UInt32(t)
        case let other: throw bad("spec.sessionAffinity", "unsupported value \"\(other)\" (ClientIP, None)")
        }
        func policy(_ value: String?, _ field: String, allowOnlyLocal: Bool) throws -> Bool {
            switch value ?? "Cluster" {
            case "Cluster": return false
            case "Local": return true
            case "OnlyLocal" where allowOnlyLocal: return true
            case let other: throw bad(field, "unsupported value \"\(other)\" (Cluster, Local)")
            }
        }
        let eTPLocal = try policy(spec.externalTrafficPolicy, "spec.externalTrafficPolicy", allowOnlyLocal: true)
        let iTPLocal = try policy(spec.internalTrafficPolicy, "spec.internalTrafficPolicy", allowOnlyLocal: false)
        let ports = spec.ports ?? []
        var out: [ServicePortInfo] = []
        var seen: Set<String> = []
        for (i, p) in ports.enumerated() {
            let field = "spec.ports[\(i)]"
            guard let proto = ServiceProtocol(rawValue: p.protocol_ ?? "TCP") else {
                throw bad("\(field).protocol", "unsupported value \"\(p.protocol_ ?? "")\" (TCP, UDP, SCTP)")
            }
            guard p.port >= 1, p.port <= 65535 else { throw bad("\(field).port", "must be in 1..65535, got \(p.port)") }
            var nodePort: UInt16?
            if let np = p.nodePort, np != 0, spec.effectiveType == "NodePort" || spec.effectiveType == "LoadBalancer" {
                guard np >= 1, np <= 65535 else { throw bad("\(field).nodePort", "must be in 1..65535, got \(np)") }
                nodePort = UInt16(np)
            }
            if case .int(let target)? = p.targetPort, target < 0 || target > 65535 {
                throw bad("\(field).targetPort", "must be in 1..65535, got \(target)")
            }
            let portName = p.name ?? ""
            guard seen.insert("\(portName)/\(proto.rawValue)").inserted else { throw bad("\(field).name", "duplicate port name \"\(portName)\"") }
            let hc = spec.healthCheckNodePort.flatMap { $0 > 0 && $0 <= 65535 ? UInt16($0) : nil }
            out.append(ServicePortInfo(
                service: name, portName: portName, proto: proto, port: UInt16(p.port), nodePort: nodePort,
                clusterIPs: clusterIPs, externalIPs: externalIPs, loadBalancerIPs: lbIPs, loadBalancerSourceRanges: ranges,
                affinityTimeoutSeconds: affinity, externalPolicyLocal: eTPLocal && (nodePort != nil || !externalIPs.isEmpty || !lbIPs.isEmpty),
                internalPolicyLocal: iTPLocal, healthCheckNodePort: eTPLocal ? hc : nil))
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// An EndpointSlice reduced to what the proxy uses, validated.
public struct SliceInfo: Sendable, Hashable {
    public let namespace: String
    public let name: String
    public let serviceName: ServiceName
    public let family: IPFamily
    /// (port name, protocol) -> port number.
    public let ports: [SlicePort]
    public let endpoints: [SliceEndpoint]

    public struct SlicePort: Sendable, Hashable {
        public let name: String
        public let proto: ServiceProtocol
        public let port: UInt16
    }

    public struct SliceEndpoint: Sendable, Hashable {
        public let addresses: [IPAddress]
        public let ready: Bool
        public let serving: Bool
        public let terminating: Bool
        public let nodeName: String?
        public let zone: String?
    }

    /// Validates a slice; FQDN slices and slices without a service label yield nil (the proxy
    /// does not use them). Throws naming the first bad field.
    public static func from(_ slice: EndpointSlice) throws -> SliceInfo? {
        let namespace = slice.metadata.namespace ?? "default"
        let sliceName = slice.metadata.name ?? ""
        func bad(_ field: String, _ message: String) -> InvalidObjectError {
            InvalidObjectError(kind: "EndpointSlice", object: "\(namespace)/\(sliceName)", field: field, message: message)
        }
        guard !sliceName.isEmpty else { throw bad("metadata.name", "Required value") }
        guard let service = slice.serviceName, !service.isEmpty else { return nil }
        let family: IPFamily
        switch slice.addressType {
        case "IPv4": family = .ipv4
        case "IPv6": family = .ipv6
        case "FQDN": return nil
        case let other: throw bad("addressType", "unsupported value \"\(other)\" (IPv4, IPv6, FQDN)")
        }
        var ports: [SlicePort] = []
        for (i, p) in (slice.ports ?? []).enumerated() {
            guard let proto = ServiceProtocol(rawValue: p.protocol_ ?? "TCP") else {
                throw bad("ports[\(i)].protocol", "unsupported value \"\(p.protocol_ ?? "")\" (TCP, UDP, SCTP)")
            }
            guard let port = p.port else { continue }  // nil port: "all ports", unusable for a VIP
            guard port >= 1, port <= 65535 else { throw bad("ports[\(i)].port", "must be in 1..65535, got \(port)") }
            ports.append(SlicePort(name: p.name ?? "", proto: proto, port: UInt16(port)))
        }
        var endpoints: [SliceEndpoint] = []
        for (i, e) in (slice.endpoints ?? []).enumerated() {
            var addresses: [IPAddress] = []
            for (j, text) in e.addresses.enumerated() {
                guard let ip = IPAddress(text), ip.family == family else {
                    throw bad("endpoints[\(i)].addresses[\(j)]", "invalid \(family.rawValue) address \"\(text)\"")
                }
                addresses.append(ip)
            }
            let c = e.conditions ?? EndpointConditions()
            endpoints.append(SliceEndpoint(addresses: addresses, ready: c.isReady, serving: c.isServing,
                                           terminating: c.isTerminating, nodeName: e.nodeName, zone: e.zone))
        }
        return SliceInfo(namespace: namespace, name: sliceName, serviceName: ServiceName(namespace: namespace, name: service),
                         family: family, ports: ports, endpoints: endpoints)
    }
}
