/// A JSON value with object keys kept in their original order.
///
/// The API server stores and serves Kubernetes JSON without a typed model for every kind, so
/// unknown fields survive round trips; keeping key order makes served objects read like the
/// ones clients sent (metadata first, then spec, then status).
public enum JSON: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }

    /// Consistent with `==`: numbers hash by value, objects independently of key order.
    public func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let b): h.combine(b)
        case .int(let i): h.combine(Double(i))
        case .double(let d): h.combine(d)
        case .string(let s): h.combine(s)
        case .array(let a): h.combine(a)
        case .object(let o):
            var acc = 0
            for (k, v) in o {
                var e = Hasher()
                e.combine(k)
                e.combine(v)
                acc ^= e.finalize()
            }
            h.combine(o.count)
            h.combine(acc)
        }
    }

    public subscript(key: String) -> JSON? {
        get { if case .object(let o) = self { return o[key] } else { return nil } }
        set {
            guard case .object(var o) = self else { return }
            self = .null  // drop the extra reference so the edit below happens in place
            o[key] = newValue
            self = .object(o)
        }
    }

    /// Follows a path of object keys; nil as soon as one is missing.
    public subscript(path path: [String]) -> JSON? {
        var cur: JSON? = self
        for k in path { cur = cur?[k] }
        return cur
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var int: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }
    public var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// A short name for error messages ("string", "object", ...), as Go's decoder words them.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    public static func obj(_ pairs: KeyValuePairs<String, JSON?>) -> JSON {
        var o = JSONObject()
        for (k, v) in pairs { if let v { o[k] = v } }
        return .object(o)
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var o = JSONObject()
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
    public init(nilLiteral: ()) { self = .null }
}

/// An insertion-ordered JSON object. Kubernetes objects are small (tens of keys per level), so
/// a linear scan beats hashing and keeps memory low.
public struct JSONObject: Sendable, Equatable, Hashable, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSON] = []

    public init() {}

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public func index(of key: String) -> Int? { keys.firstIndex(of: key) }

    public subscript(key: String) -> JSON? {
        get { index(of: key).map { values[$0] } }
        set {
            if let i = index(of: key) {
                if let newValue { values[i] = newValue } else { keys.remove(at: i); values.remove(at: i) }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Appends without checking for an existing key (the parser's fast path; duplicates are
    /// resolved by `set` semantics later if ever needed).
    mutating func appendUnchecked(_ key: String, _ value: JSON) {
        keys.append(key)
        values.append(value)
    }

    /// Edits one value in place (no copy of the child), adding it with `default` when absent.
    public mutating func withValue<R, E: Error>(_ key: String, default def: JSON, _ body: (inout JSON) throws(E) -> R) throws(E) -> R {
        if let i = index(of: key) {
            var v = values[i]
            values[i] = .null
            defer { values[i] = v }
            return try body(&v)
        }
        var v = def
        let r = try body(&v)
        keys.append(key)
        values.append(v)
        return r
    }

    public func makeIterator() -> Zip2Sequence<[String], [JSON]>.Iterator { zip(keys, values).makeIterator() }

    public func hash(into h: inout Hasher) { h.combine(JSON.object(self)) }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.keys == rhs.keys { return lhs.values == rhs.values }
        for (k, v) in lhs { guard let o = rhs[k], o == v else { return false } }
        return true
    }
}
