import LinuxNetlink

/// The fixed skeleton of one family's table, mirroring kube-proxy's `setupNFTables`: base
/// chains on the netfilter hooks, the dispatch chains they jump to, and the shared maps that
/// services fill with elements.
struct BaseRuleset {
    let config: ProxyConfig
    let family: NFTFamily

    var table: NFTTableRef { NFTTableRef(family: family, name: config.tableName) }
    var ipv6: Bool { family == .ip6 }
    var addressType: NFTDataType { ipv6 ? .ipv6Address : .ipv4Address }

    struct BaseChain {
        let name: String
        let type: NFTChainType
        let hook: NFTHook
        let priority: Int32
    }

    static let baseChains: [BaseChain] = [
        BaseChain(name: Names.filterPrerouting, type: .filter, hook: .prerouting, priority: NFTPriority.dstnat - 10),
        BaseChain(name: Names.filterInput, type: .filter, hook: .input, priority: NFTPriority.dstnat - 10),
        BaseChain(name: Names.filterForward, type: .filter, hook: .forward, priority: NFTPriority.dstnat - 10),
        BaseChain(name: Names.filterOutput, type: .filter, hook: .output, priority: NFTPriority.dstnat - 10),
        BaseChain(name: Names.filterOutputPostDNAT, type: .filter, hook: .output, priority: NFTPriority.dstnat + 10),
        BaseChain(name: Names.natPrerouting, type: .nat, hook: .prerouting, priority: NFTPriority.dstnat),
        BaseChain(name: Names.natOutput, type: .nat, hook: .output, priority: NFTPriority.dstnat),
        BaseChain(name: Names.natPostrouting, type: .nat, hook: .postrouting, priority: NFTPriority.srcnat),
    ]

    /// (target chain, from chain, only for new connections)
    static let jumps: [(String, String, Bool)] = [
        (Names.nodePortEndpointsCheck, Names.filterInput, true),
        (Names.serviceEndpointsCheck, Names.filterInput, true),
        (Names.serviceEndpointsCheck, Names.filterForward, true),
        (Names.serviceEndpointsCheck, Names.filterOutput, true),
        (Names.firewallCheck, Names.filterPrerouting, true),
        (Names.firewallCheck, Names.filterOutput, true),
        (Names.services, Names.natOutput, false),
        (Names.services, Names.natPrerouting, false),
        (Names.masquerading, Names.natPostrouting, false),
        (Names.clusterIPsCheck, Names.filterForward, true),
        (Names.clusterIPsCheck, Names.filterOutputPostDNAT, true),
    ]

    func rule(_ chain: String, _ expressions: [NFTExpression], comment: String? = nil) -> NFTRule {
        NFTRule(table: table, chain: chain, expressions: expressions, comment: comment)
    }

    /// Appends the whole skeleton (after the table itself exists in `tx`).
    func add(to tx: inout NFTTransaction) {
        for bc in Self.baseChains {
            tx.add(chain: NFTChain(table: table, name: bc.name, base: .init(type: bc.type, hook: bc.hook, priority: bc.priority)))
        }
        let regular = [Names.nodePortEndpointsCheck, Names.serviceEndpointsCheck, Names.firewallCheck, Names.services,
                       Names.masquerading, Names.clusterIPsCheck, Names.markMasq, Names.rejectChain]
        for name in regular { tx.add(chain: NFTChain(table: table, name: name)) }

        let threeTuple = NFTDataType.concat([addressType, .inetProto, .inetService])
        let twoTuple = NFTDataType.concat([.inetProto, .inetService])
        for (name, key) in [(Names.serviceIPs, threeTuple), (Names.noEndpointServices, threeTuple), (Names.firewallIPs, threeTuple),
                            (Names.serviceNodePorts, twoTuple), (Names.noEndpointNodePorts, twoTuple)] {
            tx.add(set: NFTSet(table: table, name: name, keyType: key, dataType: .verdict))
        }
        let endpoint = NFTDataType.concat([addressType, .inetService])
        tx.add(set: NFTSet(table: table, name: Names.serviceEndpoints, keyType: .concat([addressType, .inetProto, .inetService, .mark]),
                           dataType: endpoint))
        tx.add(set: NFTSet(table: table, name: Names.nodePortEndpoints, keyType: .concat([.inetProto, .inetService, .mark]), dataType: endpoint))
        tx.add(set: NFTSet(table: table, name: Names.clusterIPs, keyType: addressType))
        tx.add(set: NFTSet(table: table, name: Names.hairpin, keyType: .concat([addressType, addressType])))
        if !config.nodePortsMatchAll { tx.add(set: NFTSet(table: table, name: Names.nodePortIPs, keyType: addressType)) }

        for (target, from, newOnly) in Self.jumps {
            tx.add(rule: rule(from, (newOnly ? NFTMatch.ctState(NFTCtState.new) : []) + [.verdict(.jump(target))]))
        }
        let mark = config.masqueradeMark
        tx.add(rule: rule(Names.markMasq, NFTMatch.setMarkBits(mark)))
        // A pod reaching itself through a service: after DNAT its source and destination are
        // the same endpoint, and the reply must come back through us. Only DNATed connections:
        // a node whose endpoint is 127.0.0.1 (the API server on a loopback-only host) must not
        // have its own loopback connections masqueraded, which drops them.
        tx.add(rule: rule(Names.masquerading, NFTMatch.ctStatus(NFTCtStatus.dstNAT) + [
            NFTMatch.loadAddress(.source, ipv6: ipv6, into: .reg32(0)),
            NFTMatch.loadAddress(.destination, ipv6: ipv6, into: .reg32(ipv6 ? 4 : 1)),
            .lookup(set: Names.hairpin, source: .reg32(0), dest: nil, invert: false),
            .masquerade(flags: NFTNatFlags.fullyRandom),
        ], comment: "hairpin"))
        tx.add(rule: rule(Names.masquerading, NFTMatch.markBits(mark, isSet: false) + [.verdict(.return)]))
        tx.add(rule: rule(Names.masquerading, NFTMatch.toggleMarkBits(mark)))
        tx.add(rule: rule(Names.masquerading, [.masquerade(flags: NFTNatFlags.fullyRandom)]))

        tx.add(rule: rule(Names.clusterIPsCheck, NFTMatch.address(.destination, ipv6: ipv6, inSet: Names.clusterIPs)
                          + [.reject(ipv6 ? .icmpv6PortUnreachable : .icmpPortUnreachable)],
                          comment: "Reject traffic to invalid ports of ClusterIPs"))
        // No endpoints: TCP gets a reset, everything else ICMP port unreachable.
        tx.add(rule: rule(Names.rejectChain, NFTMatch.l4proto(NFTL4Proto.tcp) + [.reject(.tcpReset)]))
        tx.add(rule: rule(Names.rejectChain, [.reject(ipv6 ? .icmpv6PortUnreachable : .icmpPortUnreachable)]))
        tx.add(rule: rule(Names.serviceEndpointsCheck,
                          NFTMatch.loadAddressProtoPort(.destination, ipv6: ipv6) + [NFTMatch.verdictMap(Names.noEndpointServices)]))
        tx.add(rule: rule(Names.nodePortEndpointsCheck, nodePortAddressMatch + NFTMatch.loadProtoPort()
                          + [NFTMatch.verdictMap(Names.noEndpointNodePorts)]))
        tx.add(rule: rule(Names.firewallCheck,
                          NFTMatch.loadAddressProtoPort(.destination, ipv6: ipv6) + [NFTMatch.verdictMap(Names.firewallIPs)]))
        tx.add(rule: rule(Names.services,
                          NFTMatch.loadAddressProtoPort(.destination, ipv6: ipv6) + [NFTMatch.verdictMap(Names.serviceIPs)]))
        let local = config.nodePortsMatchAll ? NFTMatch.fibAddressType(.daddr, is: NFTAddressType.local) : []
        tx.add(rule: rule(Names.services, local + nodePortAddressMatch + NFTMatch.loadProtoPort()
                          + [NFTMatch.verdictMap(Names.serviceNodePorts)]))
    }

    /// `ip daddr != 127.0.0.0/8` (match-all) or `ip daddr @nodeport-ips`.
    var nodePortAddressMatch: [NFTExpression] {
        if config.nodePortsMatchAll {
            return ipv6 ? NFTMatch.address(.destination, equals: IPAddress.ipv6Loopback.bytes, negate: true)
                : NFTMatch.address(.destination, inPrefix: [127, 0, 0, 0], length: 8, negate: true)
        }
        return NFTMatch.address(.destination, ipv6: ipv6, inSet: Names.nodePortIPs)
    }
}

extension IPAddress {
    static let ipv6Loopback = IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1])
}
