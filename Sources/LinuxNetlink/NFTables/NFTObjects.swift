/// The objects an nftables ruleset is made of, as plain values: what to create, compare and
/// diff. They carry names, not kernel handles, so the same value describes the desired state
/// before and after the kernel has it.

/// Names a table: family plus name. Everything else lives inside one.
public struct NFTTableRef: Sendable, Hashable, CustomStringConvertible {
    public var family: NFTFamily
    public var name: String

    public init(family: NFTFamily, name: String) {
        self.family = family
        self.name = name
    }

    public var description: String { "\(family) \(name)" }
}

/// A regular chain (reached by jump/goto) or a base chain (attached to a netfilter hook).
public struct NFTChain: Sendable, Hashable {
    public struct Base: Sendable, Hashable {
        public var type: NFTChainType
        public var hook: NFTHook
        public var priority: Int32
        public var policy: NFTChainPolicy

        public init(type: NFTChainType, hook: NFTHook, priority: Int32, policy: NFTChainPolicy = .accept) {
            self.type = type
            self.hook = hook
            self.priority = priority
            self.policy = policy
        }
    }

    public var table: NFTTableRef
    public var name: String
    public var base: Base?

    public init(table: NFTTableRef, name: String, base: Base? = nil) {
        self.table = table
        self.name = name
        self.base = base
    }
}

/// A rule: a list of expressions appended to a chain. `comment` is stored in the rule's user
/// data (nft shows it as `comment "..."`) and is how a caller finds its rules again.
public struct NFTRule: Sendable, Hashable {
    public var table: NFTTableRef
    public var chain: String
    public var expressions: [NFTExpression]
    public var comment: String?

    public init(table: NFTTableRef, chain: String, expressions: [NFTExpression], comment: String? = nil) {
        self.table = table
        self.chain = chain
        self.expressions = expressions
        self.comment = comment
    }
}

/// A named set or map. `dataType` makes it a map (`.verdict` for a verdict map).
public struct NFTSet: Sendable, Hashable {
    public var table: NFTTableRef
    public var name: String
    public var keyType: NFTDataType
    public var dataType: NFTDataType?
    public var flags: NFTSetFlags
    /// Default element lifetime for sets with `.timeout`.
    public var timeoutMilliseconds: UInt64?

    public init(table: NFTTableRef, name: String, keyType: NFTDataType, dataType: NFTDataType? = nil,
                flags: NFTSetFlags = [], timeoutMilliseconds: UInt64? = nil) {
        self.table = table
        self.name = name
        self.keyType = keyType
        self.dataType = dataType
        self.flags = flags
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The flags sent to the kernel: `.map`, `.timeout` and `.concat` follow from the definition.
    var kernelFlags: NFTSetFlags {
        var f = flags
        if dataType != nil { f.insert(.map) }
        // The kernel wants the concat flag (with field lengths) only on interval sets.
        if keyType.fieldLengths.count > 1 && f.contains(.interval) { f.insert(.concat) } else { f.remove(.concat) }
        if timeoutMilliseconds != nil { f.insert(.timeout) }
        return f
    }
}

/// Names a set inside a table.
public struct NFTSetRef: Sendable, Hashable, CustomStringConvertible {
    public var table: NFTTableRef
    public var name: String

    public init(table: NFTTableRef, name: String) {
        self.table = table
        self.name = name
    }

    public var description: String { "\(table) set \(name)" }
}

/// One element of a set or map: a key (the end of the range too, for interval sets holding
/// ranges), an optional value, and an optional lifetime.
public struct NFTSetElement: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case verdict(NFTVerdict)
        case data([UInt8])
    }

    public var key: [UInt8]
    /// For interval sets: the last key of the range (inclusive), sent as NFTA_SET_ELEM_KEY_END.
    public var keyEnd: [UInt8]?
    public var value: Value?
    public var timeoutMilliseconds: UInt64?

    public init(key: [UInt8], keyEnd: [UInt8]? = nil, value: Value? = nil, timeoutMilliseconds: UInt64? = nil) {
        self.key = key
        self.keyEnd = keyEnd
        self.value = value
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    public init(key: [UInt8], verdict: NFTVerdict) {
        self.init(key: key, value: .verdict(verdict))
    }
}
