import CNI
import LinuxNetlink

/// portmap's hostPort forwarding in table `inet swiftlet-portmap`:
///
///     chain prerouting  { type nat hook prerouting priority dstnat; fib daddr type local jump hostports }
///     chain output      { type nat hook output priority dstnat; fib daddr type local jump hostports }
///     chain hostports   { [ip daddr HOSTIP] meta l4proto tcp th dport 8080 dnat ip to 10.88.0.5:80 comment "net/id/eth0" }
///     chain postrouting { type nat hook postrouting priority srcnat;
///                         ip saddr 10.88.0.5 ip daddr 10.88.0.5 masquerade comment "net/id/eth0" }
///
/// The postrouting rule (`snat`, default on) makes a pod reaching itself through its own
/// host port see the reply come back the way it went.
enum PortForwarding {
    static let tableName = "swiftlet-portmap"
    static let table = NFTTableRef(family: .inet, name: tableName)
    static let rules = PluginRules(table: tableName, chains: [
        NFTChain(table: table, name: "hostports"),
        NFTChain(table: table, name: "prerouting", base: .init(type: .nat, hook: .prerouting, priority: NFTPriority.dstnat)),
        NFTChain(table: table, name: "output", base: .init(type: .nat, hook: .output, priority: NFTPriority.dstnat)),
        NFTChain(table: table, name: "postrouting", base: .init(type: .nat, hook: .postrouting, priority: NFTPriority.srcnat)),
    ])

    /// The jumps into `hostports`, added once (found again by their comment).
    static let jumpTag = "swiftlet-portmap/hostports/jump"

    static func add(network: String, containerID: String, ifname: String, mappings: [PortMappingEntry],
                    addresses: [IPAddress], snat: Bool) throws {
        let tag = PluginRules.tag(network: network, containerID: containerID, ifname: ifname)
        var made: [NFTRule] = []
        for pod in addresses {
            for mapping in mappings {
                if let hostIP = mapping.hostIP, hostIP.isV4 != pod.isV4 { continue }
                var expressions = PluginRules.family(of: pod)
                if let hostIP = mapping.hostIP { expressions += PluginRules.destinationIs(hostIP) }
                expressions += NFTMatch.l4proto(protocolNumber(mapping.proto)) + NFTMatch.destinationPort(mapping.hostPort)
                expressions += NFTMatch.dnat(to: pod.bytes, port: mapping.containerPort, family: .inet)
                made.append(NFTRule(table: table, chain: "hostports", expressions: expressions, comment: tag))
            }
            if snat {
                let hairpin = PluginRules.family(of: pod) + PluginRules.sourceIs(pod) + PluginRules.destinationIs(pod) + [.masquerade(flags: 0)]
                made.append(NFTRule(table: table, chain: "postrouting", expressions: hairpin, comment: tag))
            }
        }
        guard !made.isEmpty else { throw CNIError.generic("no pod address of the host ports' family to forward to") }
        let nft = try PluginRules.client()
        try rules.add(nft, made, setup: try jumpsIfMissing(nft))
    }

    /// The `fib daddr type local jump hostports` rules, unless a previous run added them.
    static func jumpsIfMissing(_ nft: NFTables) throws -> [NFTRule] {
        if try nft.listTables(family: .inet).contains(table),
           try nft.listRules(in: table).contains(where: { $0.comment == jumpTag }) {
            return []
        }
        let jump = NFTMatch.fibAddressType(.daddr, is: NFTAddressType.local) + [.verdict(.jump("hostports"))]
        return ["prerouting", "output"].map { NFTRule(table: table, chain: $0, expressions: jump, comment: jumpTag) }
    }

    static func remove(network: String, containerID: String, ifname: String) throws {
        let nft = try PluginRules.client()
        guard try rules.exists(nft) else { return }
        try rules.delete(nft) { $0 == (network, containerID, ifname) }
    }

    static func check(network: String, containerID: String, ifname: String, mappings: [PortMappingEntry]) throws {
        guard try rules.count(try PluginRules.client(), network: network, containerID: containerID, ifname: ifname) >= mappings.count else {
            throw CNIError.generic("the hostPort rules of \(containerID)/\(ifname) are missing from table inet \(tableName)")
        }
    }

    static func gc(network: String, valid: [(String, String)]) throws {
        try rules.delete(try PluginRules.client()) { owner in
            owner.0 == network && !valid.contains { $0.0 == owner.1 && $0.1 == owner.2 }
        }
    }

    static func protocolNumber(_ name: String) -> UInt8 {
        switch name {
        case "udp": return NFTL4Proto.udp
        case "sctp": return NFTL4Proto.sctp
        default: return NFTL4Proto.tcp
        }
    }
}
