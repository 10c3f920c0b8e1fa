import CNI
import LinuxNetlink

/// The bridge's `ipMasq`: traffic from the pod subnet to anywhere outside it (and not
/// multicast) leaves with the node's address. One rule per network and subnet, in table
/// `inet swiftlet-masquerade`:
///
///     chain postrouting { type nat hook postrouting priority srcnat; }
///     ip saddr 10.88.0.0/16 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 masquerade
///         comment "swiftlet-masquerade swiftlet 10.88.0.0/16"
///
/// The rule belongs to the network, like the bridge and its gateway address: the first ADD
/// makes it, later ADDs only look it up, and GC removes it once the network has no valid
/// attachment. (The reference plugin makes a chain per container; every pod start and stop
/// then commits an nftables transaction and waits for the kernel to retire it. Traffic is
/// treated the same either way: only addresses the IPAM hands out live in the subnet.)
enum Masquerade {
    static let table = NFTTableRef(family: .inet, name: "swiftlet-masquerade")
    static let chain = NFTChain(table: table, name: "postrouting", base: .init(type: .nat, hook: .postrouting, priority: NFTPriority.srcnat))
    static let tagPrefix = "swiftlet-masquerade "

    static func client() throws -> NFTables { try PluginRules.client() }

    static func tag(network: String, subnet: IPNetwork) -> String { "\(tagPrefix)\(network) \(subnet)" }

    /// Our rules: (network, subnet text) by rule.
    static func rules(_ nft: NFTables) throws -> [(rule: NFTRuleInfo, network: String, subnet: String)] {
        guard try nft.listTables(family: .inet).contains(table) else { return [] }
        return try nft.listRules(in: table, chain: chain.name).compactMap { rule in
            guard let comment = rule.comment, comment.hasPrefix(tagPrefix) else { return nil }
            let parts = comment.dropFirst(tagPrefix.count).split(separator: " ").map(String.init)
            guard parts.count == 2 else { return nil }
            return (rule, parts[0], parts[1])
        }
    }

    /// Makes the rules of `subnets` that are missing; returns whether it committed anything.
    @discardableResult
    static func ensure(_ nft: NFTables, network: String, subnets: [IPNetwork]) throws -> Bool {
        let present = Set(try rules(nft).filter { $0.network == network }.map(\.subnet))
        var transaction = NFTTransaction()
        for subnet in Set(subnets.map(\.network)) where !present.contains(subnet.description) {
            // Force unwraps safe: constant prefixes.
            let multicast = subnet.address.isV4 ? IPNetwork("224.0.0.0/4")! : IPNetwork("ff00::/8")!
            let expressions = PluginRules.family(of: subnet.address)
                + NFTMatch.address(.source, inPrefix: subnet.first.bytes, length: subnet.prefixLength)
                + PluginRules.destinationNotIn(subnet) + PluginRules.destinationNotIn(multicast) + [.masquerade(flags: 0)]
            transaction.add(rule: NFTRule(table: table, chain: chain.name, expressions: expressions, comment: tag(network: network, subnet: subnet)))
        }
        guard !transaction.isEmpty else { return false }
        var full = NFTTransaction()
        full.add(table: table)
        full.add(chain: chain)
        full.append(contentsOf: transaction)
        do { try nft.commit(full) } catch let error as NFTablesError {
            throw CNIError.generic("cannot add the masquerade rule of network \(network)", details: error.description)
        }
        return true
    }

    static func check(_ nft: NFTables, network: String, subnets: [IPNetwork]) throws {
        let present = Set(try rules(nft).filter { $0.network == network }.map(\.subnet))
        for subnet in subnets.map(\.network) where !present.contains(subnet.description) {
            throw CNIError.generic("the masquerade rule for \(subnet) of network \(network) is missing from table inet swiftlet-masquerade")
        }
    }

    /// Removes every rule of the network; returns how many went.
    @discardableResult
    static func remove(_ nft: NFTables, network: String) throws -> Int {
        let doomed = try rules(nft).filter { $0.network == network }
        guard !doomed.isEmpty else { return 0 }
        var transaction = NFTTransaction()
        for entry in doomed { transaction.delete(ruleHandle: entry.rule.handle, chain: chain.name, in: table) }
        do { try nft.commit(transaction) } catch let error as NFTablesError {
            if error.errno == 2 { return 0 }  // a concurrent GC removed them first
            throw CNIError.generic("cannot remove the masquerade rules of network \(network)", details: error.description)
        }
        return doomed.count
    }
}
