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

extension JSON {
    /// Applies a strategic merge patch (upstream's semantics for the built-in kinds: keyed list
    /// merges, `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/…`, `$setElementOrder/…`).
    /// `definition` names the schema of this object (`core.Pod`); nil merges without list
    /// metadata (every list replaced), as upstream does for unknown types.
    func strategicPatched(with patch: JSON, definition: String?, schema: OpenAPISchema = .shared) throws(PatchError) -> JSON {
        try Self.smp(self, patch, def: definition, schema: schema)
    }

    private static func smp(_ original: JSON, _ patch: JSON, def: String?, schema: OpenAPISchema) throws(PatchError) -> JSON {
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
            let fieldType = schema.fieldType(definition: def, field: k)
            let childDef = schema.elementDefinition(fieldType)
            switch v {
            case .object:
                let cur = base[k] ?? .null
                var merged: JSON
                if case .map(let valueType)? = fieldType, case .ref = valueType {
                    // A map of objects: each value merges under its own schema.
                    merged = cur.object != nil ? cur : .object(JSONObject())
                    for (mk, mv) in v.object ?? JSONObject() {
                        if mv.isNull { merged[mk] = nil; continue }
                        merged[mk] = try smp(merged[mk] ?? .object(JSONObject()), mv, def: childDef, schema: schema)
                    }
                } else if case .object = fieldType ?? .object, def != nil, fieldType != nil {
                    merged = v  // free-form object fields are atomic
                } else {
                    merged = try smp(cur.object != nil ? cur : .object(JSONObject()), v, def: childDef, schema: schema)
                }
                base[k] = merged.isNull && v["$patch"]?.string == "delete" ? nil : merged
            case .array(let items):
                base[k] = .array(try mergeList(base[k]?.array ?? [], items, strategy: schema.patchStrategy(definition: def, field: k),
                                               def: childDef, schema: schema))
            default:
                base[k] = v
            }
        }
        for (field, order) in orders {
            guard case .array(let cur)? = base[field] else { continue }
            base[field] = .array(reorder(cur, by: order, key: schema.patchStrategy(definition: def, field: field)))
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

    private static func mergeList(_ original: [JSON], _ patch: [JSON], strategy: PatchStrategy?, def: String?, schema: OpenAPISchema) throws(PatchError) -> [JSON] {
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
                out[idx] = try smp(out[idx], item, def: def, schema: schema)
            } else {
                out.append(try smp(.object(JSONObject()), item, def: def, schema: schema))
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
