import Foundation

/// A protobuf body that cannot be read, with where and why.
public struct ProtobufError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Reads Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which
/// client-go's typed clients send for built-in kinds, into the JSON the rest of the server
/// works on. Only decoding is needed: answers are JSON, which those clients also accept.
///
/// Wire shape: the magic `k8s\0`, then a `runtime.Unknown` holding the TypeMeta and the raw
/// message. Go's encoder writes every non-pointer field, zero or not, so zero values are
/// dropped here to match what the JSON encoding (`omitempty`) would have carried.
public struct KubeProtobuf: Sendable {
    indirect enum FieldType: Sendable {
        case scalar(String)
        case message(String)
        case repeated(FieldType)
        case map(FieldType, FieldType)
    }

    struct Field: Sendable {
        let name: String
        let type: FieldType
    }

    let messages: [String: [Int: Field]]

    public static let shared = KubeProtobuf(table: ProtoTable.text)
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// Fields kept even when zero: pointers in the Go types whose zero means something.
    static let keepZero: Set<String> = ["replicas", "intVal", "terminationGracePeriodSeconds", "gracePeriodSeconds"]

    init(table: String) {
        var out: [String: [Int: Field]] = [:]
        for line in table.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let name = parts.first else { continue }
            var fields: [Int: Field] = [:]
            for p in parts.dropFirst() {
                guard let eq = p.firstIndex(of: "="), let colon = p[eq...].firstIndex(of: ":"), let n = Int(p[..<eq]) else { continue }
                let fname = String(p[p.index(after: eq)..<colon])
                fields[n] = Field(name: fname, type: Self.parseType(Substring(p[p.index(after: colon)...])))
            }
            out[String(name)] = fields
        }
        messages = out
    }

    static func parseType(_ t: Substring) -> FieldType {
        if t.hasPrefix("["), t.hasSuffix("]") { return .repeated(parseType(t.dropFirst().dropLast())) }
        if t.hasPrefix("{"), t.hasSuffix("}"), let comma = t.firstIndex(of: ",") {
            return .map(parseType(t[t.index(after: t.startIndex)..<comma]), parseType(t[t.index(after: comma)..<t.index(before: t.endIndex)]))
        }
        return t.contains(".") ? .message(String(t)) : .scalar(String(t))
    }

    /// The message type of a kind in an apiVersion (`apps/v1` `Deployment` → `apps.Deployment`).
    func messageName(apiVersion: String, kind: String) -> String? {
        if kind == "DeleteOptions" { return "meta.DeleteOptions" }
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        let prefix: String
        switch group {
        case "": prefix = "core"
        case "coordination.k8s.io": prefix = "coordination"
        case "discovery.k8s.io": prefix = "discovery"
        case "certificates.k8s.io": prefix = "certificates"
        case "meta.k8s.io": prefix = "meta"
        default: prefix = group
        }
        let name = "\(prefix).\(kind)"
        return messages[name] != nil ? name : nil
    }

    /// Decodes a whole request body: envelope, type, then the object with kind/apiVersion set.
    public func decodeBody(_ bytes: [UInt8]) throws(ProtobufError) -> JSON {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Self.magic else {
            throw ProtobufError(message: "protobuf body does not start with the Kubernetes magic prefix")
        }
        var r = Reader(bytes: bytes, start: 4, end: bytes.count)
        var apiVersion = "", kind = "", raw: [UInt8] = []
        while !r.atEnd {
            let (num, wt) = try r.key()
            switch (num, wt) {
            case (1, 2):
                var t = try r.sub()
                while !t.atEnd {
                    let (n, w) = try t.key()
                    if n == 1, w == 2 { apiVersion = String(decoding: try t.lengthDelimited(), as: UTF8.self) }
                    else if n == 2, w == 2 { kind = String(decoding: try t.lengthDelimited(), as: UTF8.self) }
                    else { try t.skip(w) }
                }
            case (2, 2): raw = try r.lengthDelimited()
            default: try r.skip(wt)
            }
        }
        guard let name = messageName(apiVersion: apiVersion, kind: kind) else {
            throw ProtobufError(message: "protobuf body of kind \"\(kind)\" in \"\(apiVersion)\" is not served")
        }
        var obj = try decode(raw, as: name)
        guard case .object(var o) = obj else { return obj }
        var out = JSONObject()
        out["kind"] = .string(kind)
        out["apiVersion"] = .string(apiVersion)
        for (k, v) in o where k != "kind" && k != "apiVersion" { out[k] = v }
        o = out
        obj = .object(o)
        return obj
    }

    func decode(_ bytes: [UInt8], as name: String) throws(ProtobufError) -> JSON {
        var r = Reader(bytes: bytes, start: 0, end: bytes.count)
        return try message(&r, name)
    }

    private func message(_ r: inout Reader, _ name: String) throws(ProtobufError) -> JSON {
        guard let fields = messages[name] else { throw ProtobufError(message: "unknown protobuf message \(name)") }
        var values: [Int: JSON] = [:]
        var order: [Int] = []
        while !r.atEnd {
            let (num, wt) = try r.key()
            guard let f = fields[num] else {
                try r.skip(wt)  // a field newer than our table: ignored, as an old server would
                continue
            }
            if values[num] == nil { order.append(num) }
            switch f.type {
            case .repeated(let inner):
                var list = values[num]?.array ?? []
                if wt == 2, case .scalar(let s) = inner, !["string", "bytes"].contains(s) {
                    var packed = try r.sub()
                    while !packed.atEnd { list.append(try scalar(&packed, s, wire: s == "double" ? 1 : s == "float" ? 5 : 0)) }
                } else {
                    list.append(try single(&r, inner, wire: wt))
                }
                values[num] = .array(list)
            case .map(let kt, let vt):
                var entry = try r.sub()
                var key: JSON = .string(""), value: JSON = .null
                while !entry.atEnd {
                    let (n, w) = try entry.key()
                    if n == 1 { key = try single(&entry, kt, wire: w) }
                    else if n == 2 { value = try single(&entry, vt, wire: w) }
                    else { try entry.skip(w) }
                }
                var m = values[num]?.object ?? JSONObject()
                m[key.string ?? key.text] = value
                values[num] = .object(m)
            default:
                values[num] = try single(&r, f.type, wire: wt)
            }
        }
        switch name {
        case "meta.Time", "meta.MicroTime":
            let secs = values[1]?.int ?? 0, nanos = values[2]?.int ?? 0
            if secs == 0 && nanos == 0 { return .null }
            let d = Date(timeIntervalSince1970: Double(secs) + Double(nanos) / 1e9)
            return .string(name == "meta.Time" ? Timestamp.format(d) : Timestamp.formatMicro(d))
        case "resource.Quantity": return values[1] ?? .string("")
        case "intstr.IntOrString":
            return (values[1]?.int ?? 0) == 1 ? (values[3] ?? .string("")) : (values[2] ?? .int(0))
        case "runtime.RawExtension", "meta.FieldsV1":
            guard case .string(let b64)? = values[1], let data = Data(base64Encoded: b64), !data.isEmpty else { return .null }
            return (try? JSON.parse(Array(data))) ?? .null
        default: break
        }
        var o = JSONObject()
        for num in order {
            guard let f = fields[num], let v = values[num] else { continue }
            if Self.isZero(v), !(Self.keepZero.contains(f.name) && v != .null) { continue }
            o[f.name] = v
        }
        return .object(o)
    }

    static func isZero(_ v: JSON) -> Bool {
        switch v {
        case .null: return true
        case .string(let s): return s.isEmpty
        case .int(let i): return i == 0
        case .double(let d): return d == 0
        case .bool(let b): return !b
        case .array(let a): return a.isEmpty
        case .object(let o): return o.isEmpty
        }
    }

    private func single(_ r: inout Reader, _ t: FieldType, wire: Int) throws(ProtobufError) -> JSON {
        switch t {
        case .scalar(let s): return try scalar(&r, s, wire: wire)
        case .message(let m):
            var sub = try r.sub()
            return try message(&sub, m)
        default: throw ProtobufError(message: "nested repeated or map field in protobuf body")
        }
    }

    private func scalar(_ r: inout Reader, _ s: String, wire: Int) throws(ProtobufError) -> JSON {
        switch s {
        case "string": return .string(String(decoding: try r.lengthDelimited(), as: UTF8.self))
        case "bytes": return .string(Data(try r.lengthDelimited()).base64EncodedString())
        case "bool": return .bool(try r.varint() != 0)
        case "int32": return .int(Int64(Int32(truncatingIfNeeded: try r.varint())))
        case "int64", "uint64", "uint32": return .int(Int64(bitPattern: try r.varint()))
        case "sint32", "sint64":
            let v = try r.varint()
            return .int(Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))))
        case "double":
            guard wire == 1 else { throw ProtobufError(message: "double field with wire type \(wire)") }
            return .double(Double(bitPattern: try r.fixed(8)))
        case "float":
            guard wire == 5 else { throw ProtobufError(message: "float field with wire type \(wire)") }
            return .double(Double(Float(bitPattern: UInt32(try r.fixed(4)))))
        default: throw ProtobufError(message: "unsupported protobuf scalar \(s)")
        }
    }

    /// A bounds-checked reader over one message's bytes.
    struct Reader {
        let bytes: [UInt8]
        var i: Int
        let end: Int

        init(bytes: [UInt8], start: Int, end: Int) {
            self.bytes = bytes
            i = start
            self.end = end
        }

        var atEnd: Bool { i >= end }

        mutating func varint() throws(ProtobufError) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < end, shift < 64 else { throw ProtobufError(message: "truncated varint at byte \(i)") }
                let c = bytes[i]
                i += 1
                v |= UInt64(c & 0x7F) << shift
                if c < 0x80 { return v }
                shift += 7
            }
        }

        mutating func key() throws(ProtobufError) -> (Int, Int) {
            let k = try varint()
            return (Int(k >> 3), Int(k & 7))
        }

        mutating func lengthDelimited() throws(ProtobufError) -> [UInt8] {
            let n = Int(try varint())
            guard n >= 0, i + n <= end else { throw ProtobufError(message: "length \(n) runs past the end at byte \(i)") }
            defer { i += n }
            return Array(bytes[i..<(i + n)])
        }

        mutating func sub() throws(ProtobufError) -> Reader {
            let n = Int(try varint())
            guard n >= 0, i + n <= end else { throw ProtobufError(message: "length \(n) runs past the end at byte \(i)") }
            defer { i += n }
            return Reader(bytes: bytes, start: i, end: i + n)
        }

        mutating func fixed(_ n: Int) throws(ProtobufError) -> UInt64 {
            guard i + n <= end else { throw ProtobufError(message: "truncated fixed field at byte \(i)") }
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(bytes[i + k]) << UInt64(8 * k) }
            i += n
            return v
        }

        mutating func skip(_ wire: Int) throws(ProtobufError) {
            switch wire {
            case 0: _ = try varint()
            case 1: _ = try fixed(8)
            case 2: _ = try lengthDelimited()
            case 5: _ = try fixed(4)
            default: throw ProtobufError(message: "unsupported wire type \(wire) at byte \(i)")
            }
        }
    }
}
