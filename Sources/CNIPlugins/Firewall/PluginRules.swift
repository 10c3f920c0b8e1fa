import CNI
import LinuxNetlink

/// The nftables rules our plugins own, found again by their comment: each rule carries
/// `<network>/<containerID>/<ifname>`, so DEL, CHECK and GC work from the attachment alone
/// (after a restart too) and never touch a rule they did not make. Each plugin keeps its own
/// `inet` table (IPv4 and IPv6 together); tables and base chains stay when their last rule
/// goes, as the bridge does, since another plugin run may be adding a rule at that moment.
struct PluginRules {
    let table: NFTTableRef
    let chains: [NFTChain]

    init(table name: String, chains: [NFTChain]) {
        table = NFTTableRef(family: .inet, name: name)
        self.chains = chains
    }

    static func tag(network: String, containerID: String, ifname: String) -> String {
        "\(network)/\(containerID)/\(ifname)"
    }

    /// (network, containerID, ifname) from a tag; nil for rules that are not ours.
    static func parse(tag: String) -> (String, String, String)? {
        let parts = tag.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    /// A client in the calling thread's network namespace. Closing it right after a commit
    /// waits for the kernel to retire the transaction (an RCU grace period), so callers keep
    /// it open across their other work and let it go last.
    static func client() throws -> NFTables {
        do { return try NFTables() } catch {
            throw CNIError.generic("cannot open nftables", details: "\(error)")
        }
    }

    /// Adds `rules` (with the table and chains, which may exist already) in one transaction:
    /// all of an attachment's rules appear at once or not at all.
    func add(_ nft: NFTables, _ rules: [NFTRule], setup: [NFTRule] = []) throws {
        var transaction = NFTTransaction()
        transaction.add(table: table)
        for chain in chains { transaction.add(chain: chain) }
        for rule in setup { transaction.add(rule: rule) }
        for rule in rules { transaction.add(rule: rule) }
        do { try nft.commit(transaction) } catch let error as NFTablesError {
            throw CNIError.generic("cannot add nftables rules to \(table)", details: error.description)
        }
    }

    /// Our rules, with the attachment each belongs to; none when the table does not exist.
    func list(_ nft: NFTables) throws -> [(rule: NFTRuleInfo, owner: (String, String, String))] {
        guard try exists(nft) else { return [] }
        return try nft.listRules(in: table).compactMap { rule in
            guard let comment = rule.comment, let owner = PluginRules.parse(tag: comment) else { return nil }
            return (rule, owner)
        }
    }

    /// Deletes every rule whose owner `matches`; returns how many went. Idempotent.
    func exists(_ nft: NFTables) throws -> Bool {
        try nft.listTables(family: .inet).contains(table)
    }

    @discardableResult
    func delete(_ nft: NFTables, where matches: ((String, String, String)) -> Bool) throws -> Int {
        let doomed = try list(nft).filter { matches($0.owner) }
        guard !doomed.isEmpty else { return 0 }
        var transaction = NFTTransaction()
        for (rule, _) in doomed { transaction.delete(ruleHandle: rule.handle, chain: rule.chain, in: table) }
        do { try nft.commit(transaction) } catch let error as NFTablesError {
            // A concurrent DEL of the same attachment may have removed them first.
            if error.errno == 2 { return try delete(nft, where: matches) }
            throw CNIError.generic("cannot delete nftables rules from \(table)", details: error.description)
        }
        return doomed.count
    }

    /// How many rules the attachment has.
    func count(_ nft: NFTables, network: String, containerID: String, ifname: String) throws -> Int {
        try list(nft).filter { $0.owner == (network, containerID, ifname) }.count
    }

    // MARK: rule phrases

    /// `meta nfproto ipv4|ipv6`: in an inet table, the guard nft puts before any ip/ip6 match.
    static func family(of address: IPAddress) -> [NFTExpression] {
        [.meta(.nfproto, into: .reg(1)), .cmp(.eq, register: .reg(1), data: [address.isV4 ? 2 : 10])]
    }

    static func sourceIs(_ address: IPAddress) -> [NFTExpression] {
        NFTMatch.address(.source, equals: address.bytes)
    }

    static func destinationIs(_ address: IPAddress) -> [NFTExpression] {
        NFTMatch.address(.destination, equals: address.bytes)
    }

    static func destinationNotIn(_ network: IPNetwork) -> [NFTExpression] {
        NFTMatch.address(.destination, inPrefix: network.first.bytes, length: network.prefixLength, negate: true)
    }
}
