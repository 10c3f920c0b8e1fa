extension JSON {
    /// Compact UTF-8 serialization, the form stored in SQLite and sent on the wire.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    public var text: String { String(decoding: serialized(), as: UTF8.self) }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let v): out.append(contentsOf: v ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let v): out.append(contentsOf: String(v).utf8)
        case .double(let v):
            if v == v.rounded(), abs(v) < 1e15 {
                out.append(contentsOf: String(Int64(v)).utf8)
            } else {
                out.append(contentsOf: String(v).utf8)
            }
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (n, v) in a.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSON.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in
            var runStart = 0
            for (idx, c) in u.enumerated() {
                let escape: UInt8?
                switch c {
                case 0x22: escape = UInt8(ascii: "\"")
                case 0x5C: escape = UInt8(ascii: "\\")
                case 0x0A: escape = UInt8(ascii: "n")
                case 0x0D: escape = UInt8(ascii: "r")
                case 0x09: escape = UInt8(ascii: "t")
                case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"): escape = 0
                default: continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<idx]))
                runStart = idx + 1
                out.append(UInt8(ascii: "\\"))
                if let e = escape, e != 0 {
                    out.append(e)
                } else {
                    out.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(c >> 4)], hexDigits[Int(c & 0xF)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<u.count]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
