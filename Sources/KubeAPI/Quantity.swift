/// A Kubernetes resource quantity (`500m`, `128Mi`, `1.5G`, `2`), parsed exactly enough to
/// compare requests and limits and to write cgroup values.
public struct Quantity: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public let text: String
    /// The value in thousandths (milli-units), so `500m` CPU is 500 and `1Ki` is 1_024_000.
    public let milli: Int64

    public init(_ text: String) throws {
        guard let milli = Quantity.parseMilli(text) else { throw QuantityError(text: text) }
        self.text = text
        self.milli = milli
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text: String
        if let i = try? c.decode(Int64.self) { text = String(i) }
        else if let d = try? c.decode(Double.self) { text = String(d) }
        else { text = try c.decode(String.self) }
        guard let milli = Quantity.parseMilli(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"\(text)\")")
        }
        self.text = text
        self.milli = milli
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    public var description: String { text }

    /// Whole units, rounded up (bytes for memory, cores for `cpu` rounds up to whole cores).
    public var value: Int64 { (milli + 999) / 1000 }

    static func parseMilli(_ raw: String) -> Int64? {
        let text = raw.trimmingCharactersInWhitespace()
        guard !text.isEmpty else { return nil }
        var numberEnd = text.startIndex
        for (i, ch) in zip(text.indices, text) {
            if ch.isNumber || ch == "." || ((ch == "+" || ch == "-") && i == text.startIndex) { numberEnd = text.index(after: i) } else { break }
        }
        let numberPart = String(text[..<numberEnd])
        let suffix = String(text[numberEnd...])
        guard let number = Double(numberPart) else { return nil }
        let multiplier: Double
        switch suffix {
        case "": multiplier = 1
        case "m": multiplier = 1e-3
        case "u": multiplier = 1e-6
        case "n": multiplier = 1e-9
        case "k": multiplier = 1e3
        case "M": multiplier = 1e6
        case "G": multiplier = 1e9
        case "T": multiplier = 1e12
        case "P": multiplier = 1e15
        case "E": multiplier = 1e18
        case "Ki": multiplier = 1024
        case "Mi": multiplier = 1024 * 1024
        case "Gi": multiplier = 1024 * 1024 * 1024
        case "Ti": multiplier = 1024 * 1024 * 1024 * 1024
        case "Pi": multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024
        case "Ei": multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024
        default:
            if suffix.first == "e" || suffix.first == "E", let exp = Double(suffix.dropFirst()) {
                multiplier = pow10(exp)
            } else {
                return nil
            }
        }
        let milli = (number * multiplier * 1000).rounded(.up)
        guard milli.isFinite, abs(milli) < 9.2e18 else { return nil }
        return Int64(milli)
    }

    private static func pow10(_ e: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(abs(e)) { r *= 10 }
        return e < 0 ? 1 / r : r
    }
}

public struct QuantityError: Error, CustomStringConvertible, Sendable {
    public let text: String
    public var description: String { "invalid quantity \"\(text)\"" }
}

extension String {
    func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
