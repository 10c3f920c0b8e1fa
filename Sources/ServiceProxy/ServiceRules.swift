import LinuxNetlink

/// Builds one Service's fragment: its elements in the shared maps, the shared pick chains it
/// needs, and (only for ClientIP affinity and source-range firewalls) chains of its own.
/// The shape follows kube-proxy's nftables mode (service-ips dispatch, external and local
/// policies, no-endpoint reject/drop maps, masquerade marking); where kube-proxy gives every
/// service port a chain and every endpoint another, an ordinary service here is elements only:
/// its dispatch verdict goes to a `PickChain` shared by all ports with as many endpoints, and
/// its endpoints are slots of the `service-endpoints` / `nodeport-endpoints` maps.
struct ServiceRuleBuilder {
    let config: ProxyConfig

    func fragment(ports: [ServicePortInfo], endpoints: [IPFamily: [PortKey: [EndpointInfo]]]) -> Fragment {
        var fragment = Fragment()
        for port in ports {
            for family in config.families {
                guard let clusterIP = port.clusterIPs.first(where: { $0.family == family }) else { continue }
                let eps = endpoints[family]?[Self.portKey(port)] ?? []
                build(port, family: family, clusterIP: clusterIP, endpoints: eps, into: &fragment)
            }
        }
        return fragment
    }

    static func portKey(_ port: ServicePortInfo) -> PortKey { PortKey(name: port.portName, proto: port.proto) }

    /// Where a port's traffic goes once it has been decided that it has somewhere to go.
    struct Targets {
        var `internal`: String
        var externalAddress: String
        var externalNodePort: String
    }

    private func build(_ port: ServicePortInfo, family: IPFamily, clusterIP: IPAddress, endpoints: [EndpointInfo], into f: inout Fragment) {
        let fam = family.nft
        let sel = EndpointSelection.categorize(endpoints, for: port, nodeName: config.nodeName)
        let hasInternal = sel.hasAny && (!port.internalPolicyLocal || !sel.local.isEmpty)
        let hasExternal = sel.hasAny && (!port.externalPolicyLocal || !sel.local.isEmpty)
        let usesExternal = sel.hasAny && port.externallyAccessible
        let internalFilter: NFTVerdict = sel.hasAny ? .drop : .goto(Names.rejectChain)
        let externalFilter: NFTVerdict = sel.hasAny ? .drop : .goto(Names.rejectChain)
        let proto = port.proto.number

        func element(_ set: SharedSet, _ key: ElementBytes, _ value: ElementValue) { f.add(fam, set, key, value) }
        func threeTuple(_ ip: IPAddress, _ p: UInt16) -> ElementBytes { .addressProtoPort(ip.bytes, proto: proto, port: p) }

        let targets: Targets
        if port.affinityTimeoutSeconds != nil {
            targets = AffinityChains(config: config, port: port, family: family, clusterIP: clusterIP, selection: sel).add(to: &f)
        } else {
            targets = sharedTargets(port, family: family, selection: sel, usesExternal: usesExternal, into: &f)
        }

        element(.clusterIPs, ElementBytes(clusterIP.bytes), .member)
        let clusterKey = threeTuple(clusterIP, port.port)
        let sticky = port.affinityTimeoutSeconds != nil
        if hasInternal {
            let slots = sticky ? [] : Self.slots(port.internalPolicyLocal ? sel.local : sel.cluster, local: port.internalPolicyLocal)
            element(.serviceIPs, clusterKey, .dispatch(.goto(targets.internal), slots: slots))
        } else {
            element(.noEndpointServices, clusterKey, .verdict(internalFilter))
        }
        let externalIPs = port.externalIPs.filter { $0.family == family }
        let lbIPs = port.loadBalancerIPs.filter { $0.family == family }
        for ip in externalIPs + lbIPs {
            let key = threeTuple(ip, port.port)
            if usesExternal { element(.serviceIPs, key, .dispatch(.goto(targets.externalAddress), slots: sticky ? [] : externalSlots(port, sel))) }
            if !hasExternal { element(.noEndpointServices, key, .verdict(externalFilter)) }
        }
        if !lbIPs.isEmpty && !port.loadBalancerSourceRanges.isEmpty {
            // Source ranges: a chain of the service's own (rare, and it never changes with
            // endpoints): return for allowed sources, drop the rest.
            let fwChain = Names.firewallChain(port)
            let ranges = port.loadBalancerSourceRanges.filter { $0.address.family == family }
            for ip in lbIPs { element(.firewallIPs, threeTuple(ip, port.port), .verdict(.goto(fwChain))) }
            let table = NFTTableRef(family: fam, name: config.tableName)
            f.chains[ObjectKey(family: fam, name: fwChain)] =
                (ranges.map { NFTMatch.address(.source, inPrefix: $0.address.bytes, length: $0.length) + [.verdict(.return)] } + [[.verdict(.drop)]])
                .map { NFTRule(table: table, chain: fwChain, expressions: $0) }
        }
        if let nodePort = port.nodePort {
            let key = ElementBytes.protoPort(proto: proto, port: nodePort)
            if usesExternal { element(.serviceNodePorts, key, .dispatch(.goto(targets.externalNodePort), slots: sticky ? [] : externalSlots(port, sel))) }
            if !hasExternal { element(.noEndpointNodePorts, key, .verdict(externalFilter)) }
        }
        // A pod reaching itself through a service is masqueraded (see BaseRuleset). Only
        // packets DNATed here can be such a pair, and a pod elsewhere has its own node's proxy
        // for ClusterIPs: so this node's endpoints (and those of unknown place), plus every
        // endpoint of a port whose external traffic from pods is sent on unmasqueraded
        // (externalTrafficPolicy: Local), which a pod elsewhere may reach through this node.
        // (A pair listed twice, from both groups, is one element: claims are per key.)
        let anyEndpoint = usesExternal && port.externalPolicyLocal
        for ep in sel.cluster + sel.local where anyEndpoint || ep.nodeName == nil || ep.nodeName == config.nodeName {
            var pair = ElementBytes(ep.ip.bytes)
            pair.append(ep.ip.bytes)
            element(.hairpin, pair, .member)
        }
    }

    /// The shared pick chains of an ordinary port, recorded in the fragment.
    private func sharedTargets(_ port: ServicePortInfo, family: IPFamily, selection sel: EndpointSelection, usesExternal: Bool,
                               into f: inout Fragment) -> Targets {
        let fam = family.nft
        let internalGroup = port.internalPolicyLocal ? sel.local : sel.cluster
        let internalPick = PickChain(family: fam, entry: .address, path: .internal(count: internalGroup.count, local: port.internalPolicyLocal))
        let externalPath: PickChain.Path = port.externalPolicyLocal
            ? .externalLocal(cluster: sel.cluster.count, local: sel.local.count) : .external(cluster: sel.cluster.count)
        let addressPick = PickChain(family: fam, entry: .address, path: externalPath)
        let nodePortPick = PickChain(family: fam, entry: .nodePort, path: externalPath)
        if !internalGroup.isEmpty { f.picks.insert(internalPick) }
        if usesExternal {
            if !port.externalIPs.isEmpty || !port.loadBalancerIPs.isEmpty { f.picks.insert(addressPick) }
            if port.nodePort != nil { f.picks.insert(nodePortPick) }
        }
        return Targets(internal: internalPick.name, externalAddress: addressPick.name, externalNodePort: nodePortPick.name)
    }

    /// The endpoints of a group in their slots (`numgen` picks a slot); local endpoints
    /// from `PickChain.localSlotOffset` on.
    static func slots(_ group: [EndpointInfo], local: Bool) -> [EndpointSlot] {
        let base = local ? PickChain.localSlotOffset : 0
        return group.enumerated().map { EndpointSlot(slot: base + UInt32($0.offset), endpoint: PickChain.endpointValue($0.element)) }
    }

    /// External entries may use every endpoint (traffic from pods and the node) and, under a
    /// Local policy, this node's endpoints for everyone else.
    private func externalSlots(_ port: ServicePortInfo, _ sel: EndpointSelection) -> [EndpointSlot] {
        Self.slots(sel.cluster, local: false) + (port.externalPolicyLocal ? Self.slots(sel.local, local: true) : [])
    }
}
