import LinuxNetlink

/// The chains of a service port with `sessionAffinity: ClientIP`, in kube-proxy's shape: a
/// service chain (and `local-`/`external-` chains for Local policies and external traffic),
/// one dynamic set per endpoint remembering its clients for the affinity timeout, and DNAT
/// rules per endpoint. Only these ports have chains of their own: the remembered choice has to
/// name an endpoint, and a shared chain cannot name another service's sets.
struct AffinityChains {
    let config: ProxyConfig
    let port: ServicePortInfo
    let family: IPFamily
    let clusterIP: IPAddress
    let selection: EndpointSelection

    func add(to f: inout Fragment) -> ServiceRuleBuilder.Targets {
        let base = BaseRuleset(config: config, family: family.nft)
        let fam = family.nft
        let sel = selection
        let svcChain = Names.serviceChain(port), localChain = Names.localChain(port), extChain = Names.externalChain(port)
        let usesClusterChain = !sel.cluster.isEmpty && port.usesClusterEndpoints
        let usesLocalChain = !sel.local.isEmpty && port.usesLocalEndpoints
        let internalChain = port.internalPolicyLocal ? localChain : svcChain
        let hasInternal = sel.hasAny && (!port.internalPolicyLocal || !sel.local.isEmpty)
        let hasExternal = sel.hasAny && (!port.externalPolicyLocal || !sel.local.isEmpty)
        let usesExtChain = sel.hasAny && port.externallyAccessible
        let proto = port.proto.number

        func addRules(_ chain: String, _ rules: [[NFTExpression]]) {
            f.chains[ObjectKey(family: fam, name: chain), default: []] += rules.map { base.rule(chain, $0) }
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
        if usesClusterChain { addRules(svcChain, endpointRules(sel.cluster)) }
        if usesLocalChain { addRules(localChain, endpointRules(sel.local)) }
        return ServiceRuleBuilder.Targets(internal: internalChain, externalAddress: extChain, externalNodePort: extChain)
    }

    /// A client seen recently goes back to its endpoint; otherwise rule i takes the connection
    /// with probability 1/(N-i) of what reaches it (`numgen random mod (N-i) == 0`), uniform
    /// like iptables' `statistic` cascade, and the choice is remembered in the endpoint's set.
    private func endpointRules(_ eps: [EndpointInfo]) -> [[NFTExpression]] {
        let fam = family.nft
        let ipv6 = family == .ipv6
        func dnat(_ ep: EndpointInfo) -> [NFTExpression] { NFTMatch.dnat(to: ep.ip.bytes, port: ep.port, family: fam) }
        var rules: [[NFTExpression]] = []
        for ep in eps {
            let set = Names.affinitySet(port, ep)
            rules.append(NFTMatch.address(.source, ipv6: ipv6, inSet: set) + remember(set, ipv6: ipv6) + dnat(ep))
        }
        for (i, ep) in eps.enumerated() {
            let remaining = UInt32(eps.count - i)
            let pick: [NFTExpression] = remaining > 1
                ? [.numgen(.random, modulus: remaining, offset: 0, into: .reg(1)), .cmp(.eq, register: .reg(1), data: NFTBytes.u32Host(0))]
                : []
            rules.append(pick + remember(Names.affinitySet(port, ep), ipv6: ipv6) + dnat(ep))
        }
        return rules
    }

    private func remember(_ set: String, ipv6: Bool) -> [NFTExpression] {
        [NFTMatch.loadAddress(.source, ipv6: ipv6), .dynset(.update, set: set, key: .reg(1), timeoutMilliseconds: nil)]
    }
}
