/// An IPv4 or IPv6 address as raw bytes in network order. Parsing and printing are our own
/// (no inet_pton round trips through C strings) so that pure logic (IPAM, CNI results) can use
/// it without touching the kernel, and so the printed form is canonical (RFC 5952 for IPv6).
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    public init?(_ text: String) {
        if text.contains(":") {
            guard let parts = IPAddress.parseV6(text) else { return nil }
            self = .v6(parts.0, parts.1)
        } else {
            guard let value = IPAddress.parseV4(Substring(text)) else { return nil }
            self = .v4(value)
        }
    }

    /// Builds from 4 or 16 network-order bytes.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high, low)
        default:
            return nil
        }
    }

    public var isV4: Bool { if case .v4 = self { return true } else { return false } }

    /// 4 or 6, as CNI results and the kernel's families talk about them.
    public var version: Int { isV4 ? 4 : 6 }

    /// Address width in bits.
    public var bitWidth: Int { isV4 ? 32 : 128 }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        case .v6(let high, let low):
            return (0..<8).map { UInt8(high >> (56 - 8 * UInt64($0)) & 0xff) }
                + (0..<8).map { UInt8(low >> (56 - 8 * UInt64($0)) & 0xff) }
        }
    }

    public static let v4Any = IPAddress.v4(0)
    public static let v6Any = IPAddress.v6(0, 0)

    public var isUnspecified: Bool { self == .v4Any || self == .v6Any }

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
        case .v6(let high, let low):
            return IPAddress.formatV6(high, low)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let ah, let al), .v6(let bh, let bl)): return ah < bh || (ah == bh && al < bl)
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// The address `delta` positions further (negative goes back), nil when it leaves the space.
    public func advanced(by delta: Int64) -> IPAddress? {
        switch self {
        case .v4(let value):
            let next = Int64(value) + delta
            guard next >= 0, next <= Int64(UInt32.max) else { return nil }
            return .v4(UInt32(next))
        case .v6(let high, let low):
            if delta >= 0 {
                let (sum, overflow) = low.addingReportingOverflow(UInt64(delta))
                if overflow {
                    guard high < UInt64.max else { return nil }
                    return .v6(high + 1, sum)
                }
                return .v6(high, sum)
            }
            let (difference, borrow) = low.subtractingReportingOverflow(UInt64(-delta))
            if borrow {
                guard high > 0 else { return nil }
                return .v6(high - 1, difference)
            }
            return .v6(high, difference)
        }
    }

    // MARK: parsing

    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt32(part), octet <= 255 else { return nil }
            // Leading zeros are ambiguous (octal in some parsers): refuse them like Go does.
            if part.count > 1 && part.first == "0" { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseV6(_ text: String) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var gapIndex: Int? = nil
        var rest = Substring(text)
        if rest.hasPrefix("::") {
            gapIndex = 0
            rest = rest.dropFirst(2)
            if rest.isEmpty { return (0, 0) }
        } else if rest.hasPrefix(":") {
            return nil
        }
        while !rest.isEmpty {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            let piece = rest[rest.startIndex..<end]
            if piece.contains(".") {
                // Embedded IPv4 in the last 32 bits.
                guard end == rest.endIndex, let v4 = parseV4(piece) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xffff))
                rest = rest[end...]
                break
            }
            guard !piece.isEmpty, piece.count <= 4, let group = UInt16(piece, radix: 16) else { return nil }
            groups.append(group)
            rest = rest[end...]
            if rest.hasPrefix("::") {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix(":") {
                rest = rest.dropFirst()
                if rest.isEmpty { return nil }
            }
        }
        if let gapIndex {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: [UInt16](repeating: 0, count: 8 - groups.count), at: gapIndex)
        }
        guard groups.count == 8 else { return nil }
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    static func formatV6(_ high: UInt64, _ low: UInt64) -> String {
        let groups: [UInt16] = (0..<4).map { UInt16(high >> (48 - 16 * UInt64($0)) & 0xffff) }
            + (0..<4).map { UInt16(low >> (48 - 16 * UInt64($0)) & 0xffff) }
        // RFC 5952: compress the longest run (length >= 2) of zero groups, the first if tied.
        var bestStart = -1, bestLength = 0, index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength { bestStart = index; bestLength = end - index }
                index = end
            } else {
                index += 1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        // IPv4-mapped addresses print their tail as dotted quad, as Go and inet_ntop do.
        if high == 0 && (low >> 32) == 0xffff {
            return "::ffff:" + IPAddress.v4(UInt32(low & 0xffff_ffff)).description
        }
        var text = ""
        var position = 0
        while position < 8 {
            if position == bestStart {
                text += "::"
                position += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[position], radix: 16)
            position += 1
        }
        return text
    }
}

/// An address with a prefix length: `10.88.0.5/16` is both the interface address and, with
/// `network`, the subnet it lives on. CNI results and netlink address/route messages use it.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.bitWidth else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/n` or `x::y/n`; a bare address gets the full-length prefix.
    public init?(_ text: String) {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let address = IPAddress(String(pieces[0])) else { return nil }
        var length = address.bitWidth
        if pieces.count == 2 {
            guard !pieces[1].isEmpty, pieces[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let parsed = Int(pieces[1]) else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// The network address (host bits cleared).
    public var network: IPNetwork {
        // Force unwrap is safe: prefixLength was validated against the same width.
        IPNetwork(address: masked(address), prefixLength: prefixLength)!
    }

    /// The first address of the prefix.
    public var first: IPAddress { masked(address) }

    /// The last address of the prefix (the IPv4 broadcast address).
    public var last: IPAddress {
        switch address {
        case .v4(let value):
            let hostMask: UInt32 = prefixLength == 0 ? UInt32.max : (prefixLength == 32 ? 0 : UInt32.max >> UInt32(prefixLength))
            return .v4(value | hostMask)
        case .v6(let high, let low):
            let (hostHigh, hostLow) = IPNetwork.v6HostMask(prefixLength)
            return .v6(high | hostHigh, low | hostLow)
        }
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.isV4 == address.isV4 else { return false }
        return masked(other) == masked(address)
    }

    /// Whether this prefix and `other` share any address.
    public func overlaps(_ other: IPNetwork) -> Bool {
        contains(other.first) || other.contains(first)
    }

    /// The number of addresses in the prefix, saturating at Int64.max for huge IPv6 prefixes.
    public var size: Int64 {
        let hostBits = address.bitWidth - prefixLength
        return hostBits >= 63 ? Int64.max : Int64(1) << Int64(hostBits)
    }

    private func masked(_ value: IPAddress) -> IPAddress {
        switch value {
        case .v4(let bits):
            let mask: UInt32 = prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
            return .v4(bits & mask)
        case .v6(let high, let low):
            let (hostHigh, hostLow) = IPNetwork.v6HostMask(prefixLength)
            return .v6(high & ~hostHigh, low & ~hostLow)
        }
    }

    private static func v6HostMask(_ prefix: Int) -> (UInt64, UInt64) {
        if prefix <= 0 { return (UInt64.max, UInt64.max) }
        if prefix < 64 { return (UInt64.max >> UInt64(prefix), UInt64.max) }
        if prefix == 64 { return (0, UInt64.max) }
        if prefix < 128 { return (0, UInt64.max >> UInt64(prefix - 64)) }
        return (0, 0)
    }
}

/// A 6-byte Ethernet address, printed lower-case with colons as CNI results and `ip` do.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            out.append(byte)
        }
        self.bytes = out
    }

    /// A random unicast, locally administered address (what the kernel picks for veths).
    public static func randomLocal() -> MACAddress {
        var bytes = RandomBytes.get(6)
        bytes[0] = (bytes[0] & 0xfe) | 0x02
        return MACAddress(uncheckedBytes: bytes)
    }

    init(uncheckedBytes: [UInt8]) { self.bytes = uncheckedBytes }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
