import LinuxNetlink

/// What conntrack cleanup needs to know about one UDP service port in one family.
struct UDPTarget: Sendable, Equatable {
    let family: IPFamily
    let serviceIPs: [IPAddress]
    let port: UInt16
    let nodePort: UInt16?
    let endpoints: Set<IPAddress>
    let key: String
}

extension Proxier {
    /// The UDP ports of a service with the endpoints this node sends them to.
    func udpTargets(_ name: ServiceName) -> [UDPTarget] {
        guard let ports = inventory.services[name], ports.contains(where: { $0.proto == .udp }) else { return [] }
        let endpoints = inventory.endpoints(of: name)
        var out: [UDPTarget] = []
        for port in ports where port.proto == .udp {
            for family in config.families {
                guard let clusterIP = port.clusterIPs.first(where: { $0.family == family }) else { continue }
                let eps = endpoints[family]?[ServiceRuleBuilder.portKey(port)] ?? []
                let selection = EndpointSelection.categorize(eps, for: port, nodeName: config.nodeName)
                let ips = [clusterIP] + (port.externalIPs + port.loadBalancerIPs).filter { $0.family == family }
                out.append(UDPTarget(family: family, serviceIPs: ips, port: port.port, nodePort: port.nodePort,
                                     endpoints: Set(selection.reachable.map(\.ip)), key: "\(port.portName)/\(family.rawValue)"))
            }
        }
        return out
    }

    /// As kube-proxy does after a sync: UDP flows have no end, so conntrack keeps sending a
    /// client to an endpoint that is gone, or to nowhere if the first packets came while the
    /// service had no endpoints. Delete entries answered by removed endpoints, and all entries
    /// of a service port whose endpoints just appeared.
    func cleanConntrack(old: [ServiceName: [UDPTarget]], names: Set<ServiceName>) {
        var filters: [IPFamily: [ConntrackFilter]] = [:]
        for name in names {
            let before = Dictionary((old[name] ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            for target in appliedUDP[name] ?? [] {
                let previous = before[target.key]
                let gone = (previous?.endpoints ?? []).subtracting(target.endpoints)
                let appeared = (previous?.endpoints.isEmpty ?? true) && !target.endpoints.isEmpty
                for ip in target.serviceIPs {
                    if appeared { filters[target.family, default: []].append(.destination(address: ip.bytes, port: target.port)) }
                    for ep in gone {
                        filters[target.family, default: []].append(.destinationAndReplySource(address: ip.bytes, port: target.port, replySource: ep.bytes))
                    }
                }
                if let nodePort = target.nodePort {
                    for ep in gone { filters[target.family, default: []].append(.destinationPortAndReplySource(port: nodePort, replySource: ep.bytes)) }
                }
            }
            // A UDP port removed entirely: its flows go nowhere now.
            let current = Set((appliedUDP[name] ?? []).map(\.key))
            for (key, previous) in before where !current.contains(key) {
                for ip in previous.serviceIPs {
                    for ep in previous.endpoints {
                        filters[previous.family, default: []].append(.destinationAndReplySource(address: ip.bytes, port: previous.port, replySource: ep.bytes))
                    }
                }
            }
        }
        for (family, list) in filters where !list.isEmpty {
            do {
                let n = try backend.deleteConntrack(list, ipv6: family == .ipv6)
                if n > 0 { logger.debug("deleted \(n) stale UDP conntrack entries (\(family.rawValue))") }
            } catch {
                logger.error("UDP conntrack cleanup failed: \(error)")
            }
        }
    }
}
