/// The vocabulary of nf_tables: families, hooks, registers, verdicts and data types, as
/// Swift values with the kernel's numbers (from `linux/netfilter/nf_tables.h`), so callers
/// never handle raw integers and every value prints the way `nft` would name it.

/// An nftables address family. Tables live in exactly one family; `ip` and `ip6` tables see
/// only their own protocol, `inet` sees both.
public enum NFTFamily: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case inet = 1    // NFPROTO_INET
    case ip = 2      // NFPROTO_IPV4
    case arp = 3     // NFPROTO_ARP
    case netdev = 5  // NFPROTO_NETDEV
    case bridge = 7  // NFPROTO_BRIDGE
    case ip6 = 10    // NFPROTO_IPV6

    public var description: String {
        switch self {
        case .inet: return "inet"
        case .ip: return "ip"
        case .arp: return "arp"
        case .netdev: return "netdev"
        case .bridge: return "bridge"
        case .ip6: return "ip6"
        }
    }
}

/// Netfilter hooks a base chain can attach to.
public enum NFTHook: UInt32, Sendable, Hashable, CustomStringConvertible {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4, ingress = 5

    public var description: String {
        switch self {
        case .prerouting: return "prerouting"
        case .input: return "input"
        case .forward: return "forward"
        case .output: return "output"
        case .postrouting: return "postrouting"
        case .ingress: return "ingress"
        }
    }
}

/// Base chain types: `nat` chains see only the first packet of a connection.
public enum NFTChainType: String, Sendable, Hashable {
    case filter, nat, route
}

/// Well-known hook priorities (`nft`'s names), so callers can write `.dstnat - 10` as
/// kube-proxy does in text.
public enum NFTPriority {
    public static let raw: Int32 = -300
    public static let mangle: Int32 = -150
    public static let dstnat: Int32 = -100
    public static let filter: Int32 = 0
    public static let security: Int32 = 50
    public static let srcnat: Int32 = 100
}

/// What a base chain does with packets that fall off its end.
public enum NFTChainPolicy: UInt32, Sendable, Hashable {
    case drop = 0   // NF_DROP
    case accept = 1 // NF_ACCEPT
}

/// nf_tables data registers. Concatenations need the 4-byte registers, laid out one after
/// another: `ip daddr . meta l4proto . th dport` uses `reg32(0)`, `reg32(1)`, `reg32(2)`.
public struct NFTRegister: Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let verdict = NFTRegister(rawValue: 0)
    /// The 16-byte registers NFT_REG_1 ... NFT_REG_4 (aliases of reg32 0-3, 4-7, 8-11, 12-15).
    public static func reg(_ n: UInt32) -> NFTRegister { NFTRegister(rawValue: n) }
    /// The 4-byte registers NFT_REG32_00 ... NFT_REG32_15.
    public static func reg32(_ n: UInt32) -> NFTRegister { NFTRegister(rawValue: 8 + n) }

    /// The register `words` 4-byte words after this one (for laying out concatenations).
    public func advanced(byWords words: Int) -> NFTRegister {
        let base = rawValue >= 8 ? rawValue : (rawValue - 1) * 4 + 8
        return NFTRegister(rawValue: base + UInt32(words))
    }
}

/// A verdict: the outcome of a rule, or the value of a verdict-map element.
public enum NFTVerdict: Sendable, Hashable, CustomStringConvertible {
    case accept
    case drop
    case `continue`
    case `return`
    case jump(String)
    case goto(String)

    /// The kernel's verdict code (NF_ACCEPT, NF_DROP, NFT_CONTINUE, NFT_RETURN, NFT_JUMP, NFT_GOTO).
    public var code: Int32 {
        switch self {
        case .accept: return 1
        case .drop: return 0
        case .continue: return -1
        case .return: return -5
        case .jump: return -3
        case .goto: return -4
        }
    }

    public var chain: String? {
        switch self {
        case .jump(let c), .goto(let c): return c
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .accept: return "accept"
        case .drop: return "drop"
        case .continue: return "continue"
        case .return: return "return"
        case .jump(let c): return "jump \(c)"
        case .goto(let c): return "goto \(c)"
        }
    }
}

/// A set key or data type as nft names it; the number is what `nft list` uses to print the
/// elements, the length is what the kernel checks. Concatenations combine both.
public struct NFTDataType: Sendable, Hashable {
    /// nft's datatype id (concatenations: ids shifted by 6 bits per component).
    public let id: UInt32
    /// Bytes, with each concatenation component padded to 4.
    public let length: UInt32
    /// Per-component lengths of a concatenation (unpadded), for interval concatenations.
    public let fieldLengths: [UInt32]

    /// Values held in host byte order (numgen results, marks): recorded in the set's user
    /// data so `nft list` prints them as numbers rather than byte-swapped.
    public let hostByteOrder: Bool

    public init(id: UInt32, length: UInt32, fieldLengths: [UInt32] = [], hostByteOrder: Bool = false) {
        self.id = id
        self.length = length
        self.fieldLengths = fieldLengths
        self.hostByteOrder = hostByteOrder
    }

    /// A host-order 32-bit number (what `numgen` and `meta mark` produce).
    public static let integer32 = NFTDataType(id: 4, length: 4, hostByteOrder: true)
    public static let ipv4Address = NFTDataType(id: 7, length: 4)
    public static let ipv6Address = NFTDataType(id: 8, length: 16)
    public static let etherAddress = NFTDataType(id: 9, length: 6)
    public static let inetProto = NFTDataType(id: 12, length: 1)
    public static let inetService = NFTDataType(id: 13, length: 2)
    public static let mark = NFTDataType(id: 19, length: 4, hostByteOrder: true)
    public static let ifname = NFTDataType(id: 41, length: 16)
    /// The data type of a verdict map's values (NFT_DATA_VERDICT).
    public static let verdict = NFTDataType(id: 0xffffff00, length: 0)

    /// `a . b . c`: nft's concatenated type, each component padded to a 4-byte register.
    public static func concat(_ parts: [NFTDataType]) -> NFTDataType {
        var id: UInt32 = 0
        var length: UInt32 = 0
        for part in parts {
            id = (id << 6) | part.id
            length += (part.length + 3) / 4 * 4
        }
        return NFTDataType(id: id, length: length, fieldLengths: parts.map(\.length))
    }
}

/// Set behaviour flags (NFT_SET_*).
public struct NFTSetFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let anonymous = NFTSetFlags(rawValue: 0x1)
    public static let constant = NFTSetFlags(rawValue: 0x2)
    public static let interval = NFTSetFlags(rawValue: 0x4)
    public static let map = NFTSetFlags(rawValue: 0x8)
    public static let timeout = NFTSetFlags(rawValue: 0x10)
    /// `dynamic`: the set may be updated from the packet path (`update @set { ... }`).
    public static let dynamic = NFTSetFlags(rawValue: 0x20)
    public static let concat = NFTSetFlags(rawValue: 0x80)
}

/// Layer-4 protocol numbers as `meta l4proto` compares them.
public enum NFTL4Proto {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132
}
