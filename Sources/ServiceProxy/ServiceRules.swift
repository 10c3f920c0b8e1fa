import LinuxNetlink

/// Builds one Service's fragment: its map elements, its chains and rules, its affinity sets.
/// The shape follows kube-proxy's nftables mode (service-ips dispatch to one chain per service
/// port, external and local policy chains, no-endpoint reject/drop maps, masquerade marking),
/// with one change for speed at scale: instead of an anonymous `numgen` vmap per service and a
/// chain per endpoint (the kernel allocates anonymous-set names and looks up named sets by
/// walking every set of the table, so 10k services cost minutes), a service chain picks its
/// endpoint with a cascade of `numgen random mod (N-i) == 0` DNAT rules (uniform, no sets);
/// hairpin masquerade is one rule over a shared set of endpoint pairs. Services with ClientIP
/// affinity use kube-proxy's per-endpoint dynamic sets.
struct ServiceRuleBuilder {
    let config: ProxyConfig

    func fragment(ports: [ServicePortInfo], endpoints: [IPFamily: [String: [EndpointInfo]]]) -> Fragment {
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

    static func portKey(_ port: ServicePortInfo) -> String { "\(port.portName)/\(port.proto.rawValue)" }

    private func build(_ port: ServicePortInfo, family: IPFamily, clusterIP: IPAddress, endpoints: [EndpointInfo], into f: inout Fragment) {
        let base = BaseRuleset(config: config, family: family.nft)
        let fam = family.nft
        let sel = EndpointSelection.categorize(endpoints, for: port, nodeName: config.nodeName)
        let svcChain = Names.serviceChain(port), localChain = Names.localChain(port), extChain = Names.externalChain(port)
        let usesClusterChain = !sel.cluster.isEmpty && port.usesClusterEndpoints
        let usesLocalChain = !sel.local.isEmpty && port.usesLocalEndpoints
        let internalChain = port.internalPolicyLocal ? localChain : svcChain
        let hasInternal = sel.hasAny && (!port.internalPolicyLocal || !sel.local.isEmpty)
        let hasExternal = sel.hasAny && (!port.externalPolicyLocal || !sel.local.isEmpty)
        let usesExtChain = sel.hasAny && port.externallyAccessible
        let internalFilter: NFTVerdict = sel.hasAny ? .drop : .goto(Names.rejectChain)
        let externalFilter: NFTVerdict = sel.hasAny ? .drop : .goto(Names.rejectChain)
        let proto = port.proto.number

        func element(_ set: String, _ key: [UInt8], _ value: ElementValue) {
            f.elements[ElementKey(family: fam, set: set, key: key)] = value
        }
        func threeTuple(_ ip: IPAddress, _ p: UInt16) -> [UInt8] { NFTMatch.addressProtoPortKey(address: ip.bytes, proto: proto, port: p) }
        func addRules(_ chain: String, _ rules: [[NFTExpression]]) {
            let key = ObjectKey(family: fam, name: chain)
            f.chains[key, default: []] += rules.map { base.rule(chain, $0) }
        }

        element(Names.clusterIPs, clusterIP.bytes, .member)
        if hasInternal {
            element(Names.serviceIPs, threeTuple(clusterIP, port.port), .verdict(.goto(internalChain)))
        } else {
            element(Names.noEndpointServices, threeTuple(clusterIP, port.port), .verdict(internalFilter))
        }
        let externalIPs = port.externalIPs.filter { $0.family == family }
        let lbIPs = port.loadBalancerIPs.filter { $0.family == family }
        for ip in externalIPs + lbIPs {
            if sel.hasAny { element(Names.serviceIPs, threeTuple(ip, port.port), .verdict(.goto(extChain))) }
            if !hasExternal { element(Names.noEndpointServices, threeTuple(ip, port.port), .verdict(externalFilter)) }
        }
        let ranges = port.loadBalancerSourceRanges.filter { $0.address.family == family }
        if !lbIPs.isEmpty && !port.loadBalancerSourceRanges.isEmpty {
            let fwChain = Names.firewallChain(port)
            for ip in lbIPs { element(Names.firewallIPs, threeTuple(ip, port.port), .verdict(.goto(fwChain))) }
            addRules(fwChain, ranges.map { NFTMatch.address(.source, inPrefix: $0.address.bytes, length: $0.length) + [.verdict(.return)] }
                     + [[.verdict(.drop)]])
        }
        if let nodePort = port.nodePort {
            let key = NFTMatch.protoPortKey(proto: proto, port: nodePort)
            if sel.hasAny { element(Names.serviceNodePorts, key, .verdict(.goto(extChain))) }
            if !hasExternal { element(Names.noEndpointNodePorts, key, .verdict(externalFilter)) }
        }

        // Masquerade ClusterIP traffic from outside the pod network (or all, if asked).
        let clusterCIDR = config.clusterCIDRs.first { $0.address.family == family }
        if hasInternal && (config.masqueradeAll || clusterCIDR != nil) {
            var match = NFTMatch.address(.destination, equals: clusterIP.bytes) + NFTMatch.l4proto(proto) + NFTMatch.destinationPort(port.port)
            if !config.masqueradeAll, let cidr = clusterCIDR {
                match += NFTMatch.address(.source, inPrefix: cidr.address.bytes, length: cidr.length, negate: true)
            }
            addRules(internalChain, [match + [.verdict(.jump(Names.markMasq))]])
        }
        if usesExtChain {
            var rules: [[NFTExpression]] = []
            if !port.externalPolicyLocal {
                rules.append([.verdict(.jump(Names.markMasq))])
                if hasExternal { rules.append([.verdict(.goto(svcChain))]) }
            } else {
                if let cidr = clusterCIDR {
                    rules.append(NFTMatch.address(.source, inPrefix: cidr.address.bytes, length: cidr.length) + [.verdict(.goto(svcChain))])
                }
                rules.append(NFTMatch.fibAddressType(.saddr, is: NFTAddressType.local) + [.verdict(.jump(Names.markMasq))])
                rules.append(NFTMatch.fibAddressType(.saddr, is: NFTAddressType.local) + [.verdict(.goto(svcChain))])
                if hasExternal { rules.append([.verdict(.goto(localChain))]) }
            }
            addRules(extChain, rules)
        }
        if let timeout = port.affinityTimeoutSeconds {
            for ep in sel.reachable {
                let name = Names.affinitySet(port, ep)
                f.sets[ObjectKey(family: fam, name: name)] = NFTSet(table: base.table, name: name, keyType: base.addressType,
                                                                   flags: [.dynamic], timeoutMilliseconds: UInt64(timeout) * 1000)
            }
        }
        if usesClusterChain { addRules(svcChain, endpointRules(port, chain: svcChain, sel.cluster, family: family, into: &f)) }
        if usesLocalChain { addRules(localChain, endpointRules(port, chain: localChain, sel.local, family: family, into: &f)) }
        for ep in sel.reachable {
            element(Names.hairpin, ep.ip.bytes + ep.ip.bytes, .member)
        }
    }

    /// The rules that pick an endpoint and DNAT to it: rule i takes the connection with
    /// probability 1/(N-i) of what reaches it (`numgen random mod (N-i) == 0`), which makes the
    /// choice uniform, as iptables' `statistic` cascade does. No set is involved: any map
    /// shared by all service chains is bound by every one of them, and the kernel walks all
    /// bindings for each element added and all elements for each binding (quadratic at 10k).
    /// With ClientIP affinity a client seen recently first goes back to its endpoint, and the
    /// chosen endpoint is remembered in its dynamic set.
    private func endpointRules(_ port: ServicePortInfo, chain: String, _ eps: [EndpointInfo], family: IPFamily,
                               into f: inout Fragment) -> [[NFTExpression]] {
        let fam = family.nft
        let ipv6 = family == .ipv6
        let sticky = port.affinityTimeoutSeconds != nil
        func dnat(_ ep: EndpointInfo) -> [NFTExpression] { NFTMatch.dnat(to: ep.ip.bytes, port: ep.port, family: fam) }
        var rules: [[NFTExpression]] = []
        if sticky {
            for ep in eps {
                let set = Names.affinitySet(port, ep)
                rules.append(NFTMatch.address(.source, ipv6: ipv6, inSet: set) + remember(set, ipv6: ipv6) + dnat(ep))
            }
        }
        for (i, ep) in eps.enumerated() {
            let remaining = UInt32(eps.count - i)
            let pick: [NFTExpression] = remaining > 1
                ? [.numgen(.random, modulus: remaining, offset: 0, into: .reg(1)), .cmp(.eq, register: .reg(1), data: NFTBytes.u32Host(0))]
                : []
            rules.append(pick + (sticky ? remember(Names.affinitySet(port, ep), ipv6: ipv6) : []) + dnat(ep))
        }
        return rules
    }

    private func remember(_ set: String, ipv6: Bool) -> [NFTExpression] {
        [NFTMatch.loadAddress(.source, ipv6: ipv6), .dynset(.update, set: set, key: .reg(1), timeoutMilliseconds: nil)]
    }
}
