import LinuxNetlink

/// A chain shared by every service port of the same shape, which picks an endpoint by looking
/// the packet's own destination up in an endpoint map:
///
///     dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @service-endpoints
///
/// Why shared chains: the kernel re-validates every chain reachable from a base chain on a
/// commit that adds a rule with a jump, a NAT, a reject or a lookup, or a map element that
/// jumps (`nft_table_validate`), finds named sets by walking a list, and walks every element
/// of a map each time a new chain binds it. With one chain per service (kube-proxy's shape)
/// all of that grows with the number of services. Here a service's endpoints are map elements
/// (`VIP . proto . port . slot : endpoint . port`), so an endpoint change is element
/// replacements that trigger none of it; a new service adds elements and one dispatch verdict;
/// only a new shape (a count of endpoints not seen before) adds a chain, once.
struct PickChain: Sendable, Hashable, Comparable {
    /// What the entry's key is: a service address (`daddr . proto . port`) or a node port
    /// (`proto . port`, whatever node address the packet came to).
    enum Entry: Sendable, Hashable { case address, nodePort }

    enum Path: Sendable, Hashable {
        /// ClusterIP traffic: masquerade what comes from outside the cluster CIDR, then pick
        /// among `count` endpoints (this node's only, for internalTrafficPolicy: Local).
        case `internal`(count: Int, local: Bool)
        /// externalTrafficPolicy: Cluster: always masquerade, pick among all endpoints.
        case external(cluster: Int)
        /// externalTrafficPolicy: Local: pods and the node itself may use any endpoint (the
        /// node's own traffic masqueraded); everyone else only this node's `local` endpoints
        /// (none: the packet falls through and the no-endpoint map drops it).
        case externalLocal(cluster: Int, local: Int)
    }

    let family: NFTFamily
    let entry: Entry
    let path: Path

    /// Slots of local endpoints start here, so both groups of one entry share the map.
    static let localSlotOffset: UInt32 = 0x10000

    var name: String {
        switch (entry, path) {
        case (_, .internal(let n, false)): return "service-pick-\(n)"
        case (_, .internal(let n, true)): return "local-pick-\(n)"
        case (.address, .external(let n)): return "external-pick-\(n)"
        case (.nodePort, .external(let n)): return "nodeport-pick-\(n)"
        case (.address, .externalLocal(let n, let m)): return "external-local-pick-\(n)-\(m)"
        case (.nodePort, .externalLocal(let n, let m)): return "nodeport-local-pick-\(n)-\(m)"
        }
    }

    var endpointMap: String { entry == .address ? Names.serviceEndpoints : Names.nodePortEndpoints }

    /// Made by every full sync whether used or not: a chain added later binds the endpoint
    /// map, and the kernel then checks every element already in it (milliseconds with 100k
    /// endpoints); made before the elements, it costs nothing. These are the shapes most
    /// services take (ClusterIP traffic, up to 16 endpoints); rarer ones pay once, on first use.
    static func prepared(families: [IPFamily]) -> Set<PickChain> {
        Set(families.flatMap { family in (1...16).map { PickChain(family: family.nft, entry: .address, path: .internal(count: $0, local: false)) } })
    }

    static func < (a: PickChain, b: PickChain) -> Bool {
        (a.family.rawValue, a.name) < (b.family.rawValue, b.name)
    }

    /// The chain's rules, in order. A NAT statement ends the evaluation (it accepts), so the
    /// first pick that matches wins.
    func rules(config: ProxyConfig) -> [[NFTExpression]] {
        let ipv6 = family == .ip6
        let cidr = config.clusterCIDRs.first { $0.address.isIPv6 == ipv6 }
        let mark: [NFTExpression] = [.verdict(.jump(Names.markMasq))]
        switch path {
        case .internal(let n, let local):
            var rules: [[NFTExpression]] = []
            if config.masqueradeAll {
                rules.append(mark)
            } else if let cidr {
                rules.append(NFTMatch.address(.source, inPrefix: cidr.address.bytes, length: cidr.length, negate: true) + mark)
            }
            rules.append(pick(n, offset: local ? Self.localSlotOffset : 0))
            return rules
        case .external(let n):
            return [mark, pick(n, offset: 0)]
        case .externalLocal(let n, let m):
            var rules: [[NFTExpression]] = []
            if let cidr { rules.append(NFTMatch.address(.source, inPrefix: cidr.address.bytes, length: cidr.length) + pick(n, offset: 0)) }
            let fromNode = NFTMatch.fibAddressType(.saddr, is: NFTAddressType.local)
            rules.append(fromNode + mark)
            rules.append(fromNode + pick(n, offset: 0))
            if m > 0 { rules.append(pick(m, offset: Self.localSlotOffset)) }
            return rules
        }
    }

    /// `dnat to KEY . numgen random mod N offset O map @endpoints`: the key lands in the 4-byte
    /// registers from reg32(0) on, the map's `address . port` value in reg 1 onwards.
    func pick(_ count: Int, offset: UInt32) -> [NFTExpression] {
        let ipv6 = family == .ip6
        var loads = entry == .address ? NFTMatch.loadAddressProtoPort(.destination, ipv6: ipv6) : NFTMatch.loadProtoPort()
        let words = entry == .address ? (ipv6 ? 6 : 3) : 2
        loads.append(.numgen(.random, modulus: UInt32(max(count, 1)), offset: offset, into: .reg32(UInt32(words))))
        loads.append(.lookup(set: endpointMap, source: .reg32(0), dest: .reg(1), invert: false))
        loads.append(.nat(.dnat, family: family, address: .reg(1), port: .reg32(ipv6 ? 4 : 1), flags: 0))
        return loads
    }

    /// The endpoint map's key for slot `slot` of an entry whose dispatch key is `entryKey`.
    static func slotKey(_ entryKey: ElementBytes, slot: UInt32) -> ElementBytes {
        var key = entryKey
        key.appendHostU32(slot)
        return key
    }

    /// The endpoint map's value: `address . port`, the port padded to a register.
    static func endpointValue(_ ep: EndpointInfo) -> ElementBytes {
        var value = ElementBytes(ep.ip.bytes)
        value.appendPadded(NFTBytes.u16Net(ep.port))
        return value
    }
}
