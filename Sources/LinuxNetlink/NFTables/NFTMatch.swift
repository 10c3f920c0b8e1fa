/// The phrases rules are written in (`ip daddr 10.0.0.1`, `meta l4proto tcp`, `th dport 80`,
/// `ct state new`, `mark set mark or 0x4000`, `dnat to 10.0.0.2:8080`), each expanded into the
/// expressions `nft` itself would generate. Rules are arrays of expressions, so phrases
/// concatenate: `NFTMatch.l4proto(.tcp) + NFTMatch.destinationPort(80) + [.verdict(.accept)]`.
public enum NFTMatch {
    static let r1 = NFTRegister.reg(1)

    /// Address header fields for an `ip` or `ip6` rule.
    public enum AddressField: Sendable {
        case source, destination
    }

    /// `ip saddr`/`ip daddr` (4 bytes) or `ip6 saddr`/`ip6 daddr` (16 bytes) loaded into `register`.
    public static func loadAddress(_ field: AddressField, ipv6: Bool, into register: NFTRegister = .reg(1)) -> NFTExpression {
        if ipv6 {
            return .payload(base: .network, offset: field == .source ? 8 : 24, length: 16, into: register)
        }
        return .payload(base: .network, offset: field == .source ? 12 : 16, length: 4, into: register)
    }


    /// `ip daddr == address` (or `!=` with `negate`); the address's length picks ip or ip6.
    public static func address(_ field: AddressField, equals address: [UInt8], negate: Bool = false) -> [NFTExpression] {
        [loadAddress(field, ipv6: address.count == 16), .cmp(negate ? .neq : .eq, register: r1, data: address)]
    }

    /// `ip daddr 10.0.0.0/8` (prefix match; `negate` for `!=`).
    public static func address(_ field: AddressField, inPrefix network: [UInt8], length: Int, negate: Bool = false) -> [NFTExpression] {
        let mask = prefixMask(bytes: network.count, length: length)
        let masked = zip(network, mask).map { $0 & $1 }
        return [loadAddress(field, ipv6: network.count == 16),
                .bitwise(source: r1, dest: r1, mask: mask, xor: [UInt8](repeating: 0, count: mask.count)),
                .cmp(negate ? .neq : .eq, register: r1, data: masked)]
    }

    public static func prefixMask(bytes: Int, length: Int) -> [UInt8] {
        (0..<bytes).map { i in
            let bits = max(0, min(8, length - i * 8))
            return bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }

    /// `ip saddr @set` / `ip daddr != @set`.
    public static func address(_ field: AddressField, ipv6: Bool, inSet set: String, negate: Bool = false) -> [NFTExpression] {
        [loadAddress(field, ipv6: ipv6), .lookup(set: set, source: r1, dest: nil, invert: negate)]
    }

    /// `meta l4proto tcp`.
    public static func l4proto(_ proto: UInt8) -> [NFTExpression] {
        [.meta(.l4proto, into: r1), .cmp(.eq, register: r1, data: [proto])]
    }

    /// `th dport 80` (any transport with ports; pair with `l4proto` to pin the protocol).
    public static func destinationPort(_ port: UInt16) -> [NFTExpression] {
        [.payload(base: .transport, offset: 2, length: 2, into: r1), .cmp(.eq, register: r1, data: NFTBytes.u16Net(port))]
    }

    /// `th sport 80`.
    public static func sourcePort(_ port: UInt16) -> [NFTExpression] {
        [.payload(base: .transport, offset: 0, length: 2, into: r1), .cmp(.eq, register: r1, data: NFTBytes.u16Net(port))]
    }

    /// `ct state new` (any of the given NFTCtState bits).
    public static func ctState(_ bits: UInt32) -> [NFTExpression] {
        [.ct(.state, direction: nil, into: r1),
         .bitwise(source: r1, dest: r1, mask: NFTBytes.u32Host(bits), xor: NFTBytes.u32Host(0)),
         .cmp(.neq, register: r1, data: NFTBytes.u32Host(0))]
    }

    /// `ct status dnat` (any of the given conntrack status bits, e.g. `NFTCtStatus.dstNAT`).
    public static func ctStatus(_ bits: UInt32) -> [NFTExpression] {
        [.ct(.status, direction: nil, into: r1),
         .bitwise(source: r1, dest: r1, mask: NFTBytes.u32Host(bits), xor: NFTBytes.u32Host(0)),
         .cmp(.neq, register: r1, data: NFTBytes.u32Host(0))]
    }

    /// `fib saddr type local` / `fib daddr type local` (`negate`: `!=`).
    public static func fibAddressType(_ flags: NFTFibFlags, is type: UInt32, negate: Bool = false) -> [NFTExpression] {
        [.fib(.addressType, flags: flags, into: r1), .cmp(negate ? .neq : .eq, register: r1, data: NFTBytes.u32Host(type))]
    }

    /// `meta mark and BITS == 0` (`isSet`: `!= 0`).
    public static func markBits(_ bits: UInt32, isSet: Bool) -> [NFTExpression] {
        [.meta(.mark, into: r1),
         .bitwise(source: r1, dest: r1, mask: NFTBytes.u32Host(bits), xor: NFTBytes.u32Host(0)),
         .cmp(isSet ? .neq : .eq, register: r1, data: NFTBytes.u32Host(0))]
    }

    /// `meta mark set mark or BITS`.
    public static func setMarkBits(_ bits: UInt32) -> [NFTExpression] {
        [.meta(.mark, into: r1),
         .bitwise(source: r1, dest: r1, mask: NFTBytes.u32Host(~bits), xor: NFTBytes.u32Host(bits)),
         .metaSet(.mark, from: r1)]
    }

    /// `meta mark set mark xor BITS`.
    public static func toggleMarkBits(_ bits: UInt32) -> [NFTExpression] {
        [.meta(.mark, into: r1),
         .bitwise(source: r1, dest: r1, mask: NFTBytes.u32Host(0xffff_ffff), xor: NFTBytes.u32Host(bits)),
         .metaSet(.mark, from: r1)]
    }

    /// `dnat to ADDRESS:PORT` (port optional) in a table of `family`.
    public static func dnat(to address: [UInt8], port: UInt16?, family: NFTFamily) -> [NFTExpression] {
        var out: [NFTExpression] = [.immediate(data: address, into: r1)]
        let portRegister: NFTRegister? = port == nil ? nil : .reg(2)
        if let port { out.append(.immediate(data: NFTBytes.u16Net(port), into: .reg(2))) }
        out.append(.nat(.dnat, family: family == .ip6 || address.count == 16 ? .ip6 : .ip, address: r1, port: portRegister, flags: 0))
        return out
    }

    /// Loads `ADDR . meta l4proto . th dport` into consecutive 4-byte registers starting at
    /// reg32(0): the key layout of `ipv4_addr . inet_proto . inet_service` maps.
    public static func loadAddressProtoPort(_ field: AddressField, ipv6: Bool) -> [NFTExpression] {
        let words = ipv6 ? 4 : 1
        return [loadAddress(field, ipv6: ipv6, into: .reg32(0)),
                .meta(.l4proto, into: .reg32(UInt32(words))),
                .payload(base: .transport, offset: 2, length: 2, into: .reg32(UInt32(words + 1)))]
    }

    /// Loads `meta l4proto . th dport` into reg32(0), reg32(1): `inet_proto . inet_service` keys.
    public static func loadProtoPort() -> [NFTExpression] {
        [.meta(.l4proto, into: .reg32(0)), .payload(base: .transport, offset: 2, length: 2, into: .reg32(1))]
    }

    /// `... vmap @map` over a key loaded at reg32(0).
    public static func verdictMap(_ map: String) -> NFTExpression {
        .lookup(set: map, source: .reg32(0), dest: .verdict, invert: false)
    }

    /// The key bytes of an `ADDR . inet_proto . inet_service` element.
    public static func addressProtoPortKey(address: [UInt8], proto: UInt8, port: UInt16) -> [UInt8] {
        NFTBytes.concat([address, [proto], NFTBytes.u16Net(port)])
    }

    /// The key bytes of an `inet_proto . inet_service` element.
    public static func protoPortKey(proto: UInt8, port: UInt16) -> [UInt8] {
        NFTBytes.concat([[proto], NFTBytes.u16Net(port)])
    }
}
