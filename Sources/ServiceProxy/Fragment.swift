import LinuxNetlink

/// A chain, set or element of ours, named by family and name (the table is always ours).
struct ObjectKey: Sendable, Hashable, Comparable {
    let family: NFTFamily
    let name: String

    static func < (a: ObjectKey, b: ObjectKey) -> Bool { (a.family.rawValue, a.name) < (b.family.rawValue, b.name) }
}

/// An element of one of our shared sets or maps.
struct ElementKey: Sendable, Hashable {
    let family: NFTFamily
    let set: String
    let key: [UInt8]
}

/// What an element holds: plain membership, a verdict, or data.
enum ElementValue: Sendable, Hashable {
    case member
    case verdict(NFTVerdict)
    case data([UInt8])

    var nft: NFTSetElement.Value? {
        switch self {
        case .member: return nil
        case .verdict(let v): return .verdict(v)
        case .data(let d): return .data(d)
        }
    }
}

/// Everything one Service contributes to the ruleset: its own chains and sets (no one else
/// has them) and its elements in the shared maps (which others may also claim). Comparing the
/// fragment before and after a change is the whole incremental sync.
struct Fragment: Sendable, Equatable {
    var chains: [ObjectKey: [NFTRule]] = [:]
    var sets: [ObjectKey: NFTSet] = [:]
    var elements: [ElementKey: ElementValue] = [:]
    /// The shared pick chains its dispatch verdicts go to (created once, kept while in use).
    var picks: Set<PickChain> = []

    var isEmpty: Bool { chains.isEmpty && sets.isEmpty && elements.isEmpty }

    mutating func merge(_ other: Fragment) {
        chains.merge(other.chains) { a, _ in a }
        sets.merge(other.sets) { a, _ in a }
        elements.merge(other.elements) { a, _ in a }
        picks.formUnion(other.picks)
    }
}
