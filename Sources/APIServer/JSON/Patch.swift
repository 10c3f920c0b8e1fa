/// A patch that cannot be applied, with the reason (answered as 422 or 400 like upstream).
public struct PatchError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension JSON {
    /// RFC 7386 JSON merge patch.
    public func mergePatched(with patch: JSON) -> JSON {
        guard case .object(let p) = patch else { return patch }
        var base = self.object ?? JSONObject()
        for (k, v) in p {
            if v.isNull {
                base[k] = nil
            } else {
                base.withValue(k, default: .null) { cur in cur = cur.mergePatched(with: v) }
            }
        }
        return .object(base)
    }

    /// RFC 6902 JSON patch.
    public func jsonPatched(with ops: JSON) throws(PatchError) -> JSON {
        guard case .array(let list) = ops else { throw PatchError(message: "json patch must be an array of operations") }
        var doc = self
        for op in list {
            guard let kind = op["op"]?.string else { throw PatchError(message: "json patch operation is missing \"op\"") }
            guard let path = op["path"]?.string else { throw PatchError(message: "json patch \(kind) operation is missing \"path\"") }
            let tokens = try Self.pointer(path)
            switch kind {
            case "add":
                guard let v = op["value"] else { throw PatchError(message: "json patch add operation at \(path) is missing \"value\"") }
                try doc.pointerAdd(tokens[...], v, path: path)
            case "remove":
                _ = try doc.pointerRemove(tokens[...], path: path)
            case "replace":
                guard let v = op["value"] else { throw PatchError(message: "json patch replace operation at \(path) is missing \"value\"") }
                _ = try doc.pointerRemove(tokens[...], path: path)
                try doc.pointerAdd(tokens[...], v, path: path)
            case "move", "copy":
                guard let from = op["from"]?.string else { throw PatchError(message: "json patch \(kind) operation is missing \"from\"") }
                let ft = try Self.pointer(from)
                let v: JSON
                if kind == "move" { v = try doc.pointerRemove(ft[...], path: from) } else {
                    guard let got = doc.pointerGet(ft[...]) else { throw PatchError(message: "json patch: \(from) does not exist") }
                    v = got
                }
                try doc.pointerAdd(tokens[...], v, path: path)
            case "test":
                guard doc.pointerGet(tokens[...]) == (op["value"] ?? .null) else {
                    throw PatchError(message: "testing value \(path) failed: test failed")
                }
            default:
                throw PatchError(message: "Unexpected kind: \(kind)")
            }
        }
        return doc
    }

    static func pointer(_ p: String) throws(PatchError) -> [String] {
        if p.isEmpty { return [] }
        guard p.hasPrefix("/") else { throw PatchError(message: "JSON pointer must be empty or start with a \"/\": \(p)") }
        return p.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacingAll("~1", "/").replacingAll("~0", "~")
        }
    }

    func pointerGet(_ t: ArraySlice<String>) -> JSON? {
        guard let first = t.first else { return self }
        switch self {
        case .object(let o): return o[first]?.pointerGet(t.dropFirst())
        case .array(let a):
            guard let i = Int(first), a.indices.contains(i) else { return nil }
            return a[i].pointerGet(t.dropFirst())
        default: return nil
        }
    }

    mutating func pointerAdd(_ t: ArraySlice<String>, _ v: JSON, path: String) throws(PatchError) {
        guard let first = t.first else { self = v; return }
        let last = t.count == 1
        switch self {
        case .object(var o):
            self = .null
            defer { self = .object(o) }
            if last { o[first] = v; return }
            guard o[first] != nil else { throw PatchError(message: "add operation does not apply: doc is missing path: \"\(path)\"") }
            try o.withValue(first, default: .null) { (c) throws(PatchError) in try c.pointerAdd(t.dropFirst(), v, path: path) }
        case .array(var a):
            self = .null
            defer { self = .array(a) }
            if last {
                if first == "-" { a.append(v); return }
                guard let i = Int(first), i >= 0, i <= a.count else { throw PatchError(message: "add operation does not apply: index out of range in \"\(path)\"") }
                a.insert(v, at: i)
                return
            }
            guard let i = Int(first), a.indices.contains(i) else { throw PatchError(message: "add operation does not apply: doc is missing path: \"\(path)\"") }
            try a[i].pointerAdd(t.dropFirst(), v, path: path)
        default:
            throw PatchError(message: "add operation does not apply: doc is missing path: \"\(path)\"")
        }
    }

    mutating func pointerRemove(_ t: ArraySlice<String>, path: String) throws(PatchError) -> JSON {
        guard let first = t.first else { throw PatchError(message: "cannot remove the whole document") }
        let last = t.count == 1
        switch self {
        case .object(var o):
            self = .null
            defer { self = .object(o) }
            guard let cur = o[first] else { throw PatchError(message: "remove operation does not apply: doc is missing path: \"\(path)\"") }
            if last { o[first] = nil; return cur }
            return try o.withValue(first, default: .null) { (c) throws(PatchError) -> JSON in try c.pointerRemove(t.dropFirst(), path: path) }
        case .array(var a):
            self = .null
            defer { self = .array(a) }
            guard let i = Int(first), a.indices.contains(i) else { throw PatchError(message: "remove operation does not apply: doc is missing path: \"\(path)\"") }
            if last { return a.remove(at: i) }
            return try a[i].pointerRemove(t.dropFirst(), path: path)
        default:
            throw PatchError(message: "remove operation does not apply: doc is missing path: \"\(path)\"")
        }
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
