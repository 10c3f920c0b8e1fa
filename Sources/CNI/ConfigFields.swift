/// Typed reads of configuration fields whose errors name the field's full path, e.g.
/// `plugins[0].ipam.ranges[0][0].subnet must be a string, not a number`, with the spec's
/// code 7 (invalid network config).
public struct ConfigFields: Sendable {
    public let object: JSONObject
    /// Path of this object in the document, e.g. `ipam` or `plugins[1]`; empty at the top.
    public let path: String

    public init(_ object: JSONObject, path: String = "") {
        self.object = object
        self.path = path
    }

    /// Reads `value` as an object; `path` names it in errors.
    public init(_ value: JSON, path: String) throws(CNIError) {
        guard case .object(let object) = value else {
            throw CNIError.config("\(path.isEmpty ? "configuration" : path) must be an object, not \(value.kindDescription)")
        }
        self.init(object, path: path)
    }

    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func invalid(_ key: String, _ problem: String) -> CNIError {
        CNIError.config("\(fieldPath(key)) \(problem)")
    }

    public func has(_ key: String) -> Bool {
        if let value = object[key], !value.isNull { return true }
        return false
    }

    public func string(_ key: String) throws(CNIError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .string(let s) = value else { throw invalid(key, "must be a string, not \(value.kindDescription)") }
        return s
    }

    public func requiredString(_ key: String) throws(CNIError) -> String {
        guard let s = try string(key), !s.isEmpty else { throw invalid(key, "is required") }
        return s
    }

    public func bool(_ key: String, default fallback: Bool = false) throws(CNIError) -> Bool {
        guard let value = object[key], !value.isNull else { return fallback }
        guard case .bool(let b) = value else { throw invalid(key, "must be true or false, not \(value.kindDescription)") }
        return b
    }

    public func int(_ key: String, range: ClosedRange<Int64>? = nil) throws(CNIError) -> Int64? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let i = value.intValue else { throw invalid(key, "must be an integer, not \(value.kindDescription)") }
        if let range, !range.contains(i) { throw invalid(key, "must be between \(range.lowerBound) and \(range.upperBound), not \(i)") }
        return i
    }

    public func object(_ key: String) throws(CNIError) -> ConfigFields? {
        guard let value = object[key], !value.isNull else { return nil }
        return try ConfigFields(value, path: fieldPath(key))
    }

    public func array(_ key: String) throws(CNIError) -> [JSON]? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .array(let items) = value else { throw invalid(key, "must be an array, not \(value.kindDescription)") }
        return items
    }
}
