import LinuxNetlink

/// Who claims each element of the shared maps: several services may put the same element
/// (a hairpin pair, a node address), or, by mistake, the same key with different values;
/// the element stays while anyone claims it and takes the value of the first claimant (by
/// name), so endpoint slots always come from the service that won the dispatch entry.
struct ElementOwners: Sendable {
    /// Almost every element has exactly one owner: that case costs no dictionary of its own.
    enum Claim: Sendable {
        case one(ServiceName, ElementValue)
        case many([ServiceName: ElementValue])

        var effective: ElementValue? {
            switch self {
            case .one(_, let value): return value
            case .many(let owners): return owners.keys.min().flatMap { owners[$0] }
            }
        }
    }

    private(set) var claims: [ElementKey: Claim] = [:]

    init(capacity: Int = 0) { claims.reserveCapacity(capacity) }

    func effective(_ key: ElementKey) -> ElementValue? { claims[key]?.effective }

    mutating func set(_ owner: ServiceName, _ key: ElementKey, _ value: ElementValue?) {
        // The common case, a key nobody claims yet, costs one hash lookup.
        if let value {
            guard let previous = claims.updateValue(.one(owner, value), forKey: key) else { return }
            claims[key] = previous
        }
        switch (claims[key], value) {
        case (nil, let value?):
            claims[key] = .one(owner, value)
        case (nil, nil):
            break
        case (.one(let who, _)?, let value?) where who == owner:
            claims[key] = .one(owner, value)
        case (.one(let who, _)?, nil):
            if who == owner { claims[key] = nil }
        case (.one(let who, let old)?, let value?):
            claims[key] = .many([who: old, owner: value])
        case (.many(var owners)?, let value):
            owners[owner] = value
            if owners.isEmpty {
                claims[key] = nil
            } else if owners.count == 1, let (who, only) = owners.first { claims[key] = .one(who, only) } else { claims[key] = .many(owners) }
        }
    }

    /// Every kernel element with its effective value (dispatch entries expanded).
    /// (Keys are distinct: slot keys extend distinct dispatch keys of their own maps.)
    var all: [(key: ElementKey, value: ElementValue)] {
        var out: [(key: ElementKey, value: ElementValue)] = []
        out.reserveCapacity(claims.count * 2)
        for (key, claim) in claims { if let value = claim.effective { key.expand(value) { out.append(($0, $1)) } } }
        return out
    }
}

/// A shared set of one family's table.
private struct ElementGroup: Hashable, Comparable {
    let family: NFTFamily, set: SharedSet
    static func < (a: ElementGroup, b: ElementGroup) -> Bool { (a.family.rawValue, a.set) < (b.family.rawValue, b.set) }
}

/// Turns "this is what we have, this is what we want" into one ordered transaction: first
/// every removal of a reference (elements, flushed chains), then deletions, then creations,
/// so no step ever points at something missing or deletes something still referenced.
struct SyncPlanner {
    let config: ProxyConfig

    func table(_ family: NFTFamily) -> NFTTableRef { NFTTableRef(family: family, name: config.tableName) }

    /// Recreates our tables from nothing: `add table; delete table; add table` per family, so
    /// whatever was there before (a previous run, a stale object) goes in the same atomic step.
    func fullSync(fragments: [ServiceName: Fragment], owners: ElementOwners, picks: Set<PickChain>) -> NFTTransaction {
        var tx = NFTTransaction()
        for family in config.families.map(\.nft) {
            tx.delete(table: table(family), ifExists: true)
            tx.add(table: table(family))
            BaseRuleset(config: config, family: family).add(to: &tx)
        }
        // Chains and their rules before any element: a chain binding a map walks its elements.
        addPicks(picks, to: &tx)
        let own = fragments.filter { !$0.value.chains.isEmpty || !$0.value.sets.isEmpty }.keys.sorted()
        for name in own { for (_, set) in fragments[name]!.sets.sorted(by: { $0.key < $1.key }) { tx.add(set: set) } }
        for name in own { for key in fragments[name]!.chains.keys.sorted() { tx.add(chain: NFTChain(table: table(key.family), name: key.name)) } }
        for name in own {
            for (_, rules) in fragments[name]!.chains.sorted(by: { $0.key < $1.key }) { for rule in rules { tx.add(rule: rule) } }
        }
        var bySet: [ElementGroup: [NFTSetElement]] = [:]
        for (key, claim) in owners.claims {
            guard let value = claim.effective else { continue }
            key.expand(value) { k, v in bySet[ElementGroup(family: k.family, set: k.set), default: []].append(NFTSetElement(key: k.key.array, value: v.nft)) }
        }
        for group in bySet.keys.sorted() { tx.add(elements: bySet[group]!, to: NFTSetRef(table: table(group.family), name: group.set.name)) }
        return tx
    }

    /// The transaction taking `changes` (service -> old and new fragment) from old to new;
    /// updates `owners` to the new claims and `picks` to the pick chains then present.
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
            let oldElements = old.elementMap, newElements = new.elementMap
            for key in Set(oldElements.keys).union(newElements.keys) where oldElements[key] != newElements[key] {
                if touched[key] == nil { touched[key] = .some(owners.effective(key)) }
                owners.set(name, key, newElements[key])
            }
        }
        var removed: [(key: ElementKey, value: ElementValue)] = [], added: [(key: ElementKey, value: ElementValue)] = []
        for (key, before) in touched {
            let after = owners.effective(key)
            if before == after { continue }
            var old: [ElementKey: ElementValue] = [:], new: [ElementKey: ElementValue] = [:]
            if let before { key.expand(before, into: &old) }
            if let after { key.expand(after, into: &new) }
            for (k, v) in old where new[k] != v { removed.append((k, v)) }
            for (k, v) in new where old[k] != v { added.append((k, v)) }
        }

        var tx = NFTTransaction()
        appendElements(removed, into: &tx, add: false, sorted: true)
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
        appendElements(added, into: &tx, add: true, sorted: true)
        return tx
    }

    private func addPicks(_ picks: Set<PickChain>, to tx: inout NFTTransaction) {
        for pick in picks.sorted() {
            let t = table(pick.family)
            tx.add(chain: NFTChain(table: t, name: pick.name))
            for expressions in pick.rules(config: config) { tx.add(rule: NFTRule(table: t, chain: pick.name, expressions: expressions)) }
        }
    }

    /// Groups elements by set, one add (or delete) operation per set; `sorted` orders each
    /// list by key (small incremental lists, for stable logs and tests).
    private func appendElements<S: Sequence>(_ elements: S, into tx: inout NFTTransaction, add: Bool, sorted: Bool)
    where S.Element == (key: ElementKey, value: ElementValue) {
        var bySet: [ElementGroup: [NFTSetElement]] = [:]
        for (key, value) in elements {
            bySet[ElementGroup(family: key.family, set: key.set), default: []].append(NFTSetElement(key: key.key.array, value: add ? value.nft : nil))
        }
        for set in bySet.keys.sorted() {
            let ref = NFTSetRef(table: table(set.family), name: set.set.name)
            var list = bySet[set]!
            if sorted { list.sort { $0.key.lexicographicallyPrecedes($1.key) } }
            if add { tx.add(elements: list, to: ref) } else { tx.delete(elements: list, from: ref) }
        }
    }
}
