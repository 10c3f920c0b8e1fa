import LinuxNetlink

/// Who claims each element of the shared maps: several services may put the same element
/// (a hairpin pair, a node address), or, by mistake, the same key with different values;
/// the element stays while anyone claims it and takes the value of the first claimant.
struct ElementOwners: Sendable {
    private(set) var claims: [ElementKey: [ServiceName: ElementValue]] = [:]

    func effective(_ key: ElementKey) -> ElementValue? {
        guard let owners = claims[key], let first = owners.keys.min() else { return nil }
        return owners[first]
    }

    mutating func set(_ owner: ServiceName, _ key: ElementKey, _ value: ElementValue?) {
        if let value {
            claims[key, default: [:]][owner] = value
        } else {
            claims[key]?[owner] = nil
            if claims[key]?.isEmpty == true { claims[key] = nil }
        }
    }

    var all: [(ElementKey, ElementValue)] { claims.keys.compactMap { k in effective(k).map { (k, $0) } } }
}

/// Turns "this is what we have, this is what we want" into one ordered transaction: first
/// every removal of a reference (elements, flushed chains), then deletions, then creations,
/// so no step ever points at something missing or deletes something still referenced.
struct SyncPlanner {
    let config: ProxyConfig

    func table(_ family: NFTFamily) -> NFTTableRef { NFTTableRef(family: family, name: config.tableName) }

    /// Recreates our tables from nothing: `add table; delete table; add table` per family, so
    /// whatever was there before (a previous run, a stale object) goes in the same atomic step.
    func fullSync(fragments: [ServiceName: Fragment], owners: ElementOwners) -> NFTTransaction {
        var tx = NFTTransaction()
        for family in config.families.map(\.nft) {
            tx.delete(table: table(family), ifExists: true)
            tx.add(table: table(family))
            BaseRuleset(config: config, family: family).add(to: &tx)
        }
        addPicks(Set(fragments.values.flatMap(\.picks)), to: &tx)
        let ordered = fragments.keys.sorted()
        for name in ordered { for (_, set) in fragments[name]!.sets.sorted(by: { $0.key < $1.key }) { tx.add(set: set) } }
        for name in ordered { for key in fragments[name]!.chains.keys.sorted() { tx.add(chain: NFTChain(table: table(key.family), name: key.name)) } }
        for name in ordered {
            for (_, rules) in fragments[name]!.chains.sorted(by: { $0.key < $1.key }) { for rule in rules { tx.add(rule: rule) } }
        }
        appendElements(owners.all, into: &tx, add: true)
        return tx
    }

    /// The transaction taking `changes` (service -> old and new fragment) from old to new;
    /// updates `owners` to the new claims.
    func incremental(changes: [ServiceName: (old: Fragment, new: Fragment)], owners: inout ElementOwners,
                     picks: inout Set<PickChain>) -> NFTTransaction {
        var flush: [ObjectKey] = [], deleteChains: [ObjectKey] = [], deleteSets: [ObjectKey] = []
        var addSets: [NFTSet] = [], addChains: [ObjectKey] = [], addRules: [NFTRule] = []
        var touched: [ElementKey: ElementValue?] = [:]  // value before the change

        for name in changes.keys.sorted() {
            guard let (old, new) = changes[name] else { continue }
            let setsChanged = old.sets != new.sets
            for key in Set(old.chains.keys).union(new.chains.keys).sorted() {
                switch (old.chains[key], new.chains[key]) {
                case (nil, let rules?):
                    addChains.append(key)
                    addRules += rules
                case (_?, nil):
                    flush.append(key)
                    deleteChains.append(key)
                case (let before?, let after?) where before != after || setsChanged:
                    flush.append(key)
                    addRules += after
                default: break
                }
            }
            for key in Set(old.sets.keys).union(new.sets.keys).sorted() {
                let before = old.sets[key], after = new.sets[key]
                if before == after { continue }
                if before != nil { deleteSets.append(key) }
                if let after { addSets.append(after) }
            }
            for key in Set(old.elements.keys).union(new.elements.keys) {
                if touched[key] == nil { touched[key] = .some(owners.effective(key)) }
                owners.set(name, key, new.elements[key])
            }
        }
        var removed: [(ElementKey, ElementValue)] = [], added: [(ElementKey, ElementValue)] = []
        for (key, before) in touched {
            let after = owners.effective(key)
            if before == after { continue }
            if let before { removed.append((key, before)) }
            if let after { added.append((key, after)) }
        }

        var tx = NFTTransaction()
        appendElements(removed, into: &tx, add: false)
        for key in flush { tx.flush(chain: key.name, in: table(key.family)) }
        for key in deleteChains { tx.delete(chain: key.name, in: table(key.family)) }
        for key in deleteSets { tx.delete(set: NFTSetRef(table: table(key.family), name: key.name)) }
        for set in addSets { tx.add(set: set) }
        // Shared pick chains are only ever added here (an unused one costs nothing and may be
        // wanted again soon; the next full sync leaves it out).
        let newPicks = Set(changes.values.flatMap(\.new.picks)).subtracting(picks)
        addPicks(newPicks, to: &tx)
        picks.formUnion(newPicks)
        for key in addChains { tx.add(chain: NFTChain(table: table(key.family), name: key.name)) }
        for rule in addRules { tx.add(rule: rule) }
        appendElements(added, into: &tx, add: true)
        return tx
    }

    private func addPicks(_ picks: Set<PickChain>, to tx: inout NFTTransaction) {
        for pick in picks.sorted() {
            let t = table(pick.family)
            tx.add(chain: NFTChain(table: t, name: pick.name))
            for expressions in pick.rules(config: config) { tx.add(rule: NFTRule(table: t, chain: pick.name, expressions: expressions)) }
        }
    }

    /// Groups elements by set, one add (or delete) operation per set, in a stable order.
    private func appendElements(_ elements: [(ElementKey, ElementValue)], into tx: inout NFTTransaction, add: Bool) {
        var bySet: [ObjectKey: [NFTSetElement]] = [:]
        for (key, value) in elements {
            bySet[ObjectKey(family: key.family, name: key.set), default: []].append(NFTSetElement(key: key.key, value: add ? value.nft : nil))
        }
        for set in bySet.keys.sorted() {
            let ref = NFTSetRef(table: table(set.family), name: set.name)
            let list = bySet[set]!.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            if add { tx.add(elements: list, to: ref) } else { tx.delete(elements: list, from: ref) }
        }
    }
}
