/// Shorthands for the metadata every Kubernetes object carries.
extension JSON {
    var metadata: JSON { self["metadata"] ?? .object(JSONObject()) }
    var name: String { self["metadata"]?["name"]?.string ?? "" }
    var namespace: String { self["metadata"]?["namespace"]?.string ?? "" }
    var uid: String { self["metadata"]?["uid"]?.string ?? "" }
    var resourceVersion: String { self["metadata"]?["resourceVersion"]?.string ?? "" }
    var generation: Int64 { self["metadata"]?["generation"]?.int ?? 0 }
    var kind: String { self["kind"]?.string ?? "" }
    var apiVersion: String { self["apiVersion"]?.string ?? "" }
    var labels: [String: String] { self["metadata"]?["labels"]?.stringMap ?? [:] }
    var annotations: [String: String] { self["metadata"]?["annotations"]?.stringMap ?? [:] }
    var deletionTimestamp: String? { self["metadata"]?["deletionTimestamp"]?.string }
    var finalizers: [String] { self["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? [] }
    var ownerReferences: [JSON] { self["metadata"]?["ownerReferences"]?.array ?? [] }
    var ownerUIDs: [String] { ownerReferences.compactMap { $0["uid"]?.string } }

    /// The ownerReference marked `controller: true`, if any.
    var controllerRef: JSON? { ownerReferences.first { $0["controller"]?.bool == true } }

    var stringMap: [String: String]? {
        guard case .object(let o) = self else { return nil }
        var m: [String: String] = [:]
        for (k, v) in o { if let s = v.string { m[k] = s } }
        return m
    }

    static func stringMap(_ m: [String: String]) -> JSON {
        var o = JSONObject()
        for k in m.keys.sorted() { o[k] = .string(m[k] ?? "") }
        return .object(o)
    }

    /// Sets a value at a path of object keys, creating intermediate objects.
    mutating func set(_ path: [String], _ value: JSON?) {
        guard let first = path.first else { if let value { self = value }; return }
        guard case .object(var o) = self else {
            if value == nil { return }
            var fresh = JSON.object(JSONObject())
            fresh.set(path, value)
            self = fresh
            return
        }
        self = .null
        if path.count == 1 {
            o[first] = value
        } else if value == nil && o[first] == nil {
            // nothing to remove
        } else {
            o.withValue(first, default: .object(JSONObject())) { child in
                if case .object = child {} else { child = .object(JSONObject()) }
                child.set(Array(path.dropFirst()), value)
            }
        }
        self = .object(o)
    }

    mutating func setMeta(_ key: String, _ value: JSON?) { set(["metadata", key], value) }
}
