import CNI
import LinuxNetlink

/// The bridge's `ipMasq`: traffic from a pod to anywhere outside its subnet (and not
/// multicast) leaves with the node's address, in table `inet swiftlet-masquerade`:
///
///     chain postrouting { type nat hook postrouting priority srcnat; }
///     ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 masquerade comment "net/id/eth0"
enum Masquerade {
    static let rules = PluginRules(table: "swiftlet-masquerade", chains: [
        NFTChain(table: NFTTableRef(family: .inet, name: "swiftlet-masquerade"), name: "postrouting",
                 base: .init(type: .nat, hook: .postrouting, priority: NFTPriority.srcnat)),
    ])

    static func add(network: String, containerID: String, ifname: String, addresses: [IPNetwork]) throws {
        let tag = PluginRules.tag(network: network, containerID: containerID, ifname: ifname)
        let made = addresses.map { pod -> NFTRule in
            // Force unwraps safe: constant prefixes.
            let multicast = pod.address.isV4 ? IPNetwork("224.0.0.0/4")! : IPNetwork("ff00::/8")!
            let expressions = PluginRules.family(of: pod.address) + PluginRules.sourceIs(pod.address)
                + PluginRules.destinationNotIn(pod.network) + PluginRules.destinationNotIn(multicast) + [.masquerade(flags: 0)]
            return NFTRule(table: rules.table, chain: "postrouting", expressions: expressions, comment: tag)
        }
        try rules.add(made)
    }

    static func remove(network: String, containerID: String, ifname: String) throws {
        try rules.delete { $0 == (network, containerID, ifname) }
    }

    static func check(network: String, containerID: String, ifname: String) throws {
        guard try rules.count(network: network, containerID: containerID, ifname: ifname) > 0 else {
            throw CNIError.generic("the masquerade rule of \(containerID)/\(ifname) is missing from table inet swiftlet-masquerade")
        }
    }

    /// Drops the rules of this network's attachments that are not valid any more.
    static func gc(network: String, valid: [(String, String)]) throws {
        try rules.delete { owner in
            owner.0 == network && !valid.contains { $0.0 == owner.1 && $0.1 == owner.2 }
        }
    }
}
