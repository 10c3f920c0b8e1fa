/// An IPv4 or IPv6 address as the bytes nftables compares, parsed without the C library so
/// the model stays pure and testable. Canonical text (`description`) names objects and chains.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }
    public var family: IPFamily { isIPv6 ? .ipv6 : .ipv4 }

    public init?(_ text: String) {
        if text.contains(":") {
            guard let b = IPAddress.parseIPv6(text) else { return nil }
            bytes = b
        } else {
            guard let b = IPAddress.parseIPv4(text) else { return nil }
            bytes = b
        }
    }

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var isLoopback: Bool {
        isIPv6 ? bytes == [UInt8](repeating: 0, count: 15) + [1] : bytes[0] == 127
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.bytes.count != b.bytes.count ? a.bytes.count < b.bytes.count : a.bytes.lexicographicallyPrecedes(b.bytes)
    }

    public var description: String {
        if !isIPv6 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        // Longest run of zero groups (length >= 2) collapses to "::".
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let v = UInt8(part) else { return nil }
            if part.count > 1 && part.first == "0" { return nil }  // no octal-looking forms
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        var head: [UInt16] = [], tail: [UInt16] = []
        var halves: [String] = [text]
        if let r = text.firstRange(of: "::") {
            halves = [String(text[..<r.lowerBound]), String(text[r.upperBound...])]
            if halves[1].contains("::") || halves[1].hasPrefix(":") { return nil }
        }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, part.contains("."), let v4 = parseIPv4(String(part)) {
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard !part.isEmpty, part.count <= 4, let v = UInt16(part, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let h = groups(halves[0]) else { return nil }
        head = h
        if halves.count == 2 {
            guard let t = groups(halves[1]) else { return nil }
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

public enum IPFamily: String, Sendable, Hashable, CaseIterable {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"
}

/// A CIDR such as `10.0.0.0/8` or `fd00::/64`.
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let length = Int(parts[1]),
              length >= 0, length <= address.bytes.count * 8 else { return nil }
        self.address = address
        self.length = length
    }

    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.bytes.count == address.bytes.count else { return false }
        for i in 0..<ip.bytes.count {
            let bits = max(0, min(8, length - i * 8))
            if bits == 0 { return true }
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if ip.bytes[i] & mask != address.bytes[i] & mask { return false }
        }
        return true
    }

    public var description: String { "\(address)/\(length)" }
}
