/// Which endpoints a service port sends traffic to, following kube-proxy's rules
/// (`CategorizeEndpoints`): ready endpoints; serving-and-terminating ones only when no ready
/// endpoint exists; "local" means on this node (`nodeName` equals the proxy's node name).
public struct EndpointSelection: Sendable, Equatable {
    public var cluster: [EndpointInfo] = []
    public var local: [EndpointInfo] = []
    /// True when any usable endpoint exists anywhere (not only on this node).
    public var hasAny = false

    public static func categorize(_ endpoints: [EndpointInfo], for port: ServicePortInfo, nodeName: String) -> EndpointSelection {
        var out = EndpointSelection()
        if port.usesClusterEndpoints {
            // Usually every endpoint is ready: share the array rather than copy it.
            out.cluster = endpoints.allSatisfy(\.ready) ? endpoints : endpoints.filter(\.ready)
            if out.cluster.isEmpty { out.cluster = endpoints.filter { $0.serving && $0.terminating } }
            if !out.cluster.isEmpty { out.hasAny = true }
        }
        guard port.usesLocalEndpoints else { return out }
        var localReady = false, localTerminating = false
        for ep in endpoints {
            let isLocal = ep.nodeName == nodeName
            if ep.ready {
                out.hasAny = true
                if isLocal { localReady = true }
            } else if ep.serving && ep.terminating {
                out.hasAny = true
                if isLocal { localTerminating = true }
            }
        }
        if localReady {
            out.local = endpoints.filter { $0.nodeName == nodeName && $0.ready }
        } else if localTerminating {
            out.local = endpoints.filter { $0.nodeName == nodeName && $0.serving && $0.terminating }
        }
        return out
    }

    /// Every endpoint this node may send the port's traffic to.
    public var reachable: [EndpointInfo] {
        var all = local.isEmpty ? cluster : cluster + local
        all.sort()
        var out: [EndpointInfo] = []
        out.reserveCapacity(all.count)
        for ep in all where out.last != ep { out.append(ep) }
        return out
    }
}

extension SliceInfo {
    /// The endpoints this slice gives a service port: matched by port name and protocol, one
    /// per endpoint (its first address, as kube-proxy does).
    public func endpoints(forPortName name: String, proto: ServiceProtocol) -> [EndpointInfo] {
        guard let port = ports.first(where: { $0.name == name && $0.proto == proto }) else { return [] }
        return endpoints.compactMap { e in
            guard let ip = e.addresses.first else { return nil }
            return EndpointInfo(ip: ip, port: port.port, ready: e.ready, serving: e.serving, terminating: e.terminating,
                                nodeName: e.nodeName, zone: e.zone)
        }
    }
}
