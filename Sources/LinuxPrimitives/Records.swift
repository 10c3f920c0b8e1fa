/// A tiny self-delimiting key/value encoding (`key length\nbytes\n`, repeated) for the files and
/// messages the agent and the shim exchange. The shim is Foundation-free and must parse it in
/// microseconds; values may hold any bytes (arguments, environment, BPF programs).
public struct Records: Sendable, Equatable {
    public private(set) var fields: [(key: String, value: [UInt8])] = []

    public init() {}

    public static func == (lhs: Records, rhs: Records) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public mutating func append(_ key: String, _ value: [UInt8]) { fields.append((key, value)) }
    public mutating func append(_ key: String, _ value: String) { fields.append((key, Array(value.utf8))) }
    public mutating func append<I: BinaryInteger>(_ key: String, _ value: I) { append(key, String(value)) }
    public mutating func append(_ key: String, _ value: Bool) { append(key, value ? "1" : "0") }

    public func bytes(_ key: String) -> [UInt8]? { fields.first { $0.key == key }?.value }
    public func string(_ key: String) -> String? { bytes(key).map { String(decoding: $0, as: UTF8.self) } }
    public func strings(_ key: String) -> [String] { fields.filter { $0.key == key }.map { String(decoding: $0.value, as: UTF8.self) } }
    public func int(_ key: String) -> Int? { string(key).flatMap { Int($0) } }
    public func int64(_ key: String) -> Int64? { string(key).flatMap { Int64($0) } }
    public func bool(_ key: String) -> Bool { string(key) == "1" }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.count + 12 })
        for (key, value) in fields {
            out.append(contentsOf: key.utf8)
            out.append(0x20)
            out.append(contentsOf: String(value.count).utf8)
            out.append(0x0A)
            out.append(contentsOf: value)
            out.append(0x0A)
        }
        return out
    }

    /// Parses `encoded()` output; nil when the bytes are not well-formed.
    public static func decode(_ bytes: [UInt8]) -> Records? {
        var records = Records()
        var i = 0
        let n = bytes.count
        while i < n {
            var keyEnd = i
            while keyEnd < n && bytes[keyEnd] != 0x20 { keyEnd += 1 }
            guard keyEnd < n, keyEnd > i else { return nil }
            var j = keyEnd + 1
            var length = 0
            while j < n && bytes[j] != 0x0A {
                let d = Int(bytes[j]) - 48
                guard d >= 0 && d <= 9, length < (1 << 40) else { return nil }
                length = length * 10 + d
                j += 1
            }
            guard j < n else { return nil }
            let start = j + 1
            guard start + length < n, bytes[start + length] == 0x0A else { return nil }
            records.append(String(decoding: bytes[i..<keyEnd], as: UTF8.self), Array(bytes[start..<start + length]))
            i = start + length + 1
        }
        return records
    }
}
