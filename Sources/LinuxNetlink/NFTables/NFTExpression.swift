/// One nf_tables expression: the instructions a rule is made of. These are the kernel's own
/// building blocks (what `nft --debug=netlink` prints), so a rule here is exactly what the
/// kernel runs; `NFTMatch` composes them into the phrases people write (`ip daddr 10.0.0.1`).
public enum NFTExpression: Sendable, Hashable {
    /// Loads `length` bytes at `offset` of a header into a register.
    case payload(base: NFTPayloadBase, offset: UInt32, length: UInt32, into: NFTRegister)
    /// Loads packet metadata (`meta l4proto`, `meta mark`, ...) into a register.
    case meta(NFTMetaKey, into: NFTRegister)
    /// Sets packet metadata from a register (`meta mark set ...`).
    case metaSet(NFTMetaKey, from: NFTRegister)
    /// Compares a register with constant bytes; a failed comparison ends the rule.
    case cmp(NFTCmpOp, register: NFTRegister, data: [UInt8])
    /// `dest = (source & mask) ^ xor` over `mask.count` bytes.
    case bitwise(source: NFTRegister, dest: NFTRegister, mask: [UInt8], xor: [UInt8])
    /// Looks a register up in a named set (or a map, writing the value into `dest`; for a
    /// verdict map `dest` is `.verdict`). `invert` matches when the key is absent.
    case lookup(set: String, source: NFTRegister, dest: NFTRegister?, invert: Bool)
    /// Looks a register up in an anonymous set created with the rule (`vmap { 0 : goto a }`);
    /// the set lives and dies with the rule.
    case lookupAnonymous(NFTAnonymousSet, source: NFTRegister, dest: NFTRegister?)
    /// Writes a number into a register: random or incremental, modulo `modulus`, plus `offset`.
    case numgen(NFTNumgenType, modulus: UInt32, offset: UInt32, into: NFTRegister)
    /// Loads connection-tracking state (`ct state`, `ct mark`, ...).
    case ct(NFTCtKey, direction: UInt8?, into: NFTRegister)
    /// Writes constant bytes into a register.
    case immediate(data: [UInt8], into: NFTRegister)
    /// Ends the rule with a verdict (accept, drop, return, jump, goto).
    case verdict(NFTVerdict)
    /// Source or destination NAT to the address (and port) held in registers.
    case nat(NFTNatType, family: NFTFamily, address: NFTRegister?, port: NFTRegister?, flags: UInt32)
    /// Source NAT to the outgoing interface's address.
    case masquerade(flags: UInt32)
    /// Refuses the packet with an ICMP error or a TCP reset.
    case reject(NFTReject)
    /// Counts packets and bytes.
    case counter
    /// Adds or refreshes the key held in a register in a named set from the packet path.
    case dynset(NFTDynsetOp, set: String, key: NFTRegister, timeoutMilliseconds: UInt64?)
    /// Asks the routing table about an address (`fib daddr type local`).
    case fib(NFTFibResult, flags: NFTFibFlags, into: NFTRegister)
}

public enum NFTPayloadBase: UInt32, Sendable, Hashable {
    case link = 0, network = 1, transport = 2
}

public enum NFTMetaKey: UInt32, Sendable, Hashable {
    case length = 0, `protocol` = 1, priority = 2, mark = 3, iif = 4, oif = 5
    case iifname = 6, oifname = 7, nfproto = 15, l4proto = 16
}

public enum NFTCmpOp: UInt32, Sendable, Hashable {
    case eq = 0, neq = 1, lt = 2, lte = 3, gt = 4, gte = 5
}

public enum NFTNumgenType: UInt32, Sendable, Hashable {
    case incremental = 0, random = 1
}

public enum NFTCtKey: UInt32, Sendable, Hashable {
    case state = 0, direction = 1, status = 2, mark = 3
}

/// `ct status` bits (IPS_* in linux/netfilter/nf_conntrack_common.h).
public enum NFTCtStatus {
    /// IPS_DST_NAT: the connection's destination was rewritten (a service VIP was DNATed).
    public static let dstNAT: UInt32 = 1 << 5
}

/// `ct state` bits as the kernel stores them.
public enum NFTCtState {
    public static let invalid: UInt32 = 1
    public static let established: UInt32 = 2
    public static let related: UInt32 = 4
    public static let new: UInt32 = 8
    public static let untracked: UInt32 = 64
}

public enum NFTNatType: UInt32, Sendable, Hashable {
    case snat = 0, dnat = 1
}

/// NF_NAT_RANGE_* flags for `nat` and `masquerade`.
public enum NFTNatFlags {
    public static let random: UInt32 = 1 << 2
    public static let persistent: UInt32 = 1 << 3
    public static let fullyRandom: UInt32 = 1 << 4
}

/// How to refuse a packet: `reject` with an ICMP(v6) code, or `reject with tcp reset`.
public enum NFTReject: Sendable, Hashable {
    /// ICMP (ip tables) or ICMPv6 (ip6 tables) destination-unreachable with this code.
    case icmpUnreachable(code: UInt8)
    /// The family-independent ICMPX codes of inet tables (0 no-route, 1 port, 2 host, 3 admin).
    case icmpxUnreachable(code: UInt8)
    case tcpReset

    /// Port unreachable, as plain `reject` sends in an `ip` table.
    public static let icmpPortUnreachable = NFTReject.icmpUnreachable(code: 3)
    /// Port unreachable, as plain `reject` sends in an `ip6` table.
    public static let icmpv6PortUnreachable = NFTReject.icmpUnreachable(code: 4)
}

public enum NFTDynsetOp: UInt32, Sendable, Hashable {
    case add = 0, update = 1, delete = 2
}

public enum NFTFibResult: UInt32, Sendable, Hashable {
    case oif = 1, oifname = 2, addressType = 3
}

public struct NFTFibFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let saddr = NFTFibFlags(rawValue: 1)
    public static let daddr = NFTFibFlags(rawValue: 2)
    public static let mark = NFTFibFlags(rawValue: 4)
    public static let iif = NFTFibFlags(rawValue: 8)
    public static let oif = NFTFibFlags(rawValue: 16)
}

/// Route types `fib ... type` yields (RTN_*).
public enum NFTAddressType {
    public static let unicast: UInt32 = 1
    public static let local: UInt32 = 2
    public static let broadcast: UInt32 = 3
}

/// An anonymous set or map written inline in a rule; it is created in the same transaction
/// and the kernel frees it with the rule.
public struct NFTAnonymousSet: Sendable, Hashable {
    public var keyType: NFTDataType
    public var dataType: NFTDataType?
    public var flags: NFTSetFlags
    public var elements: [NFTSetElement]

    public init(keyType: NFTDataType, dataType: NFTDataType? = nil, flags: NFTSetFlags = [], elements: [NFTSetElement]) {
        self.keyType = keyType
        self.dataType = dataType
        self.flags = flags
        self.elements = elements
    }

    /// `vmap { 0 : goto a, 1 : goto b, ... }` keyed by a host-order u32 (what `numgen` writes).
    public static func indexVerdictMap(_ verdicts: [NFTVerdict]) -> NFTAnonymousSet {
        NFTAnonymousSet(
            keyType: .integer32, dataType: .verdict, flags: [.map],
            elements: verdicts.enumerated().map { NFTSetElement(key: NFTBytes.u32Host(UInt32($0.offset)), verdict: $0.element) })
    }
}

/// Byte encodings nf_tables compares against: network order for header fields, host order for
/// metadata such as marks and `numgen` results.
public enum NFTBytes {
    public static func u32Host(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
    public static func u32Net(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    public static func u16Net(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// Pads each component of a concatenated key to a 4-byte register and joins them.
    public static func concat(_ parts: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            out.append(contentsOf: part)
            let pad = (4 - part.count % 4) % 4
            out.append(contentsOf: repeatElement(0, count: pad))
        }
        return out
    }
}
