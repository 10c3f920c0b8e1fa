/// How a field merges under a strategic merge patch (upstream's `patchStrategy` and
/// `patchMergeKey` struct tags on the built-in types).
enum PatchStrategy: Equatable {
    /// Lists of objects merged by a key field; lists of scalars merged as sets when key is nil.
    case merge(key: String?)
    /// A map whose absent keys are cleared when the patch lists `$retainKeys`.
    case retainKeys
    /// Merge by key, and elements honour `$retainKeys` (pod volumes).
    case mergeRetainKeys(key: String)
}

/// The merge strategies of the built-in kinds, by field path from the object root (list
/// indices omitted). Workload templates reuse the Pod paths.
enum PatchMeta {
    static let container: [String: PatchStrategy] = [
        "ports": .merge(key: "containerPort"), "env": .merge(key: "name"),
        "volumeMounts": .merge(key: "mountPath"), "volumeDevices": .merge(key: "devicePath"),
    ]
    static let podSpec: [String: PatchStrategy] = [
        "containers": .merge(key: "name"), "initContainers": .merge(key: "name"), "ephemeralContainers": .merge(key: "name"),
        "volumes": .mergeRetainKeys(key: "name"), "imagePullSecrets": .merge(key: "name"), "hostAliases": .merge(key: "ip"),
        "topologySpreadConstraints": .merge(key: "topologyKey"), "resourceClaims": .mergeRetainKeys(key: "name"),
        "schedulingGates": .merge(key: "name"),
    ]
    static let metadata: [String: PatchStrategy] = ["finalizers": .merge(key: nil), "ownerReferences": .merge(key: "uid")]

    static func strategy(kind: String, path: [String]) -> PatchStrategy? {
        guard let field = path.last else { return nil }
        if path.count == 2, path[0] == "metadata" { return metadata[field] }
        if path.count == 4, path[0] == "spec", path[1] == "template", path[2] == "metadata" { return metadata[field] }
        var rel: [String]?
        if kind == "Pod", path.first == "spec" { rel = Array(path.dropFirst()) }
        if kind == "Deployment" || kind == "ReplicaSet", path.count > 3, path[0] == "spec", path[1] == "template", path[2] == "spec" {
            rel = Array(path.dropFirst(3))
        }
        if let rel {
            if rel.count == 1 { return podSpec[field] }
            if rel.count == 2, ["containers", "initContainers", "ephemeralContainers"].contains(rel[0]) { return container[field] }
            return nil
        }
        switch (kind, path) {
        case (_, ["status", "conditions"]): return .merge(key: "type")
        case ("Pod", ["status", "podIPs"]), ("Pod", ["status", "hostIPs"]): return .merge(key: "ip")
        case ("Pod", ["status", "resourceClaimStatuses"]): return .merge(key: "name")
        case ("Deployment", ["spec", "strategy"]): return .retainKeys
        case ("Service", ["spec", "ports"]): return .merge(key: "port")
        case ("Node", ["spec", "podCIDRs"]): return .merge(key: nil)
        case ("Node", ["status", "addresses"]): return .merge(key: "type")
        default: return nil
        }
    }
}

extension JSON {
    /// Applies a strategic merge patch (upstream's semantics for the built-in kinds: keyed list
    /// merges, `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/…`, `$setElementOrder/…`).
    func strategicPatched(with patch: JSON, kind: String) throws(PatchError) -> JSON {
        try Self.smp(self, patch, kind: kind, path: [])
    }

    private static func smp(_ original: JSON, _ patch: JSON, kind: String, path: [String]) throws(PatchError) -> JSON {
        guard case .object(let p) = patch else { return patch }
        if let d = p["$patch"]?.string {
            if d == "replace" { var o = p; o["$patch"] = nil; return .object(o) }
            if d == "delete" { return .null }
            if d != "merge" { throw PatchError(message: "unknown patch type: \(d) in map: \(patch.text)") }
        }
        var base = original.object ?? JSONObject()
        var retain: [String]?
        var orders: [String: [JSON]] = [:]
        for (k, v) in p {
            if k == "$patch" { continue }
            if k == "$retainKeys" {
                guard case .array(let keys) = v else { throw PatchError(message: "invalid $retainKeys: must be a list of strings") }
                retain = keys.compactMap(\.string)
                continue
            }
            if k.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(k.dropFirst("$deleteFromPrimitiveList/".count))
                let drop = v.array ?? []
                if case .array(let cur)? = base[field] { base[field] = .array(cur.filter { !drop.contains($0) }) }
                continue
            }
            if k.hasPrefix("$setElementOrder/") {
                orders[String(k.dropFirst("$setElementOrder/".count))] = v.array ?? []
                continue
            }
            if v.isNull { base[k] = nil; continue }
            let childPath = path + [k]
            switch v {
            case .object:
                let cur = base[k] ?? .null
                let merged = try smp(cur.object != nil ? cur : .object(JSONObject()), v, kind: kind, path: childPath)
                base[k] = merged.isNull && v["$patch"]?.string == "delete" ? nil : merged
            case .array(let items):
                base[k] = .array(try mergeList(base[k]?.array ?? [], items, strategy: PatchMeta.strategy(kind: kind, path: childPath),
                                               kind: kind, path: childPath))
            default:
                base[k] = v
            }
        }
        for (field, order) in orders {
            guard case .array(let cur)? = base[field] else { continue }
            base[field] = .array(reorder(cur, by: order, key: PatchMeta.strategy(kind: kind, path: path + [field])))
        }
        if let retain {
            for k in base.keys where !retain.contains(k) { base[k] = nil }
        }
        return .object(base)
    }

    private static func mergeKey(_ s: PatchStrategy?) -> (merge: Bool, key: String?) {
        switch s {
        case .merge(let k)?: return (true, k)
        case .mergeRetainKeys(let k)?: return (true, k)
        default: return (false, nil)
        }
    }

    private static func mergeList(_ original: [JSON], _ patch: [JSON], strategy: PatchStrategy?, kind: String, path: [String]) throws(PatchError) -> [JSON] {
        let (merge, key) = mergeKey(strategy)
        if patch.contains(where: { $0["$patch"]?.string == "replace" }) {
            return patch.filter { $0["$patch"]?.string != "replace" }
        }
        guard merge else { return patch }
        guard let key else {
            var out = original
            for v in patch where !out.contains(v) { out.append(v) }
            return out
        }
        var out = original
        for item in patch {
            guard case .object = item else { throw PatchError(message: "a merge list element must be an object with \"\(key)\"") }
            guard let kv = item[key] else {
                throw PatchError(message: "map: \(item.text) does not contain declared merge key: \(key)")
            }
            let idx = out.firstIndex { $0[key] == kv }
            if item["$patch"]?.string == "delete" {
                if let idx { out.remove(at: idx) }
                continue
            }
            if let idx {
                out[idx] = try smp(out[idx], item, kind: kind, path: path)
            } else {
                out.append(try smp(.object(JSONObject()), item, kind: kind, path: path))
            }
        }
        return out
    }

    private static func reorder(_ list: [JSON], by order: [JSON], key strategy: PatchStrategy?) -> [JSON] {
        let key = mergeKey(strategy).key
        func id(_ v: JSON) -> JSON { key.flatMap { v[$0] } ?? v }
        var rest = list
        var out: [JSON] = []
        for o in order {
            if let i = rest.firstIndex(where: { id($0) == id(o) }) { out.append(rest.remove(at: i)) }
        }
        return out + rest
    }
}
