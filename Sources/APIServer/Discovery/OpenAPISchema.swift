/// The schema of the built-in kinds we serve: field names, types, required fields and the
/// strategic-merge metadata of lists. One immutable value serves `/openapi/v3`, strict field
/// validation and the server's strategic merge patch, so all three agree.
public struct OpenAPISchema: Sendable {
    public indirect enum FieldType: Sendable, Equatable {
        case string, integer, number, boolean, time, bytes, object, quantity, intstr
        case array(FieldType)
        case map(FieldType)
        case ref(String)
    }

    public struct Field: Sendable {
        public let name: String
        public let type: FieldType
        public let required: Bool
    }

    public struct Definition: Sendable {
        public let name: String
        public let fields: [Field]
        public func field(_ n: String) -> Field? { fields.first { $0.name == n } }
    }

    public let definitions: [String: Definition]

    /// Parsed once; immutable (not process state in the sense of the design rules).
    public static let shared = OpenAPISchema(table: SchemaTable.text)

    init(table: String) {
        var defs: [String: Definition] = [:]
        for line in table.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let name = parts.first else { continue }
            var fields: [Field] = []
            for p in parts.dropFirst() {
                guard let colon = p.firstIndex(of: ":") else { continue }
                var t = String(p[p.index(after: colon)...])
                let required = t.hasSuffix("!")
                if required { t.removeLast() }
                fields.append(Field(name: String(p[..<colon]), type: Self.parseType(Substring(t)), required: required))
            }
            defs[String(name)] = Definition(name: String(name), fields: fields)
        }
        definitions = defs
    }

    static func parseType(_ t: Substring) -> FieldType {
        if t.hasPrefix("["), t.hasSuffix("]") { return .array(parseType(t.dropFirst().dropLast())) }
        if t.hasPrefix("{"), t.hasSuffix("}") { return .map(parseType(t.dropFirst().dropLast())) }
        switch t {
        case "string": return .string
        case "integer": return .integer
        case "number": return .number
        case "boolean": return .boolean
        case "time": return .time
        case "bytes": return .bytes
        case "object": return .object
        case "quantity": return .quantity
        case "intstr": return .intstr
        default: return .ref(String(t))
        }
    }

    /// `core.Pod` → `io.k8s.api.core.v1.Pod`.
    public static func fullName(_ short: String) -> String {
        guard let dot = short.firstIndex(of: ".") else { return short }
        let prefix = short[..<dot], type = short[short.index(after: dot)...]
        switch prefix {
        case "meta": return "io.k8s.apimachinery.pkg.apis.meta.v1.\(type)"
        case "core": return "io.k8s.api.core.v1.\(type)"
        default: return "io.k8s.api.\(prefix).v1.\(type)"
        }
    }

    /// The API group a definition's prefix stands for.
    static func group(ofPrefix p: Substring) -> String {
        switch p {
        case "core": return ""
        case "apps", "autoscaling", "policy": return String(p)
        case "meta": return "meta.k8s.io"
        default: return "\(p).k8s.io"
        }
    }

    /// The definition of a served kind ("Pod" in group "" → `core.Pod`).
    public func definitionName(kind: String, group: String) -> String? {
        let prefix: String
        switch group {
        case "": prefix = "core"
        case "coordination.k8s.io": prefix = "coordination"
        case "discovery.k8s.io": prefix = "discovery"
        case "certificates.k8s.io": prefix = "certificates"
        default: prefix = group
        }
        let n = "\(prefix).\(kind)"
        return definitions[n] != nil ? n : nil
    }

    // MARK: strategic merge metadata (upstream's patchStrategy/patchMergeKey tags)

    static let containerLists: [String: PatchStrategy] = [
        "ports": .merge(key: "containerPort"), "env": .merge(key: "name"),
        "volumeMounts": .merge(key: "mountPath"), "volumeDevices": .merge(key: "devicePath"),
    ]
    static let conditionsByType: [String: PatchStrategy] = ["conditions": .merge(key: "type")]

    static let patchMeta: [String: [String: PatchStrategy]] = [
        "meta.ObjectMeta": ["finalizers": .merge(key: nil), "ownerReferences": .merge(key: "uid")],
        "core.PodSpec": [
            "containers": .merge(key: "name"), "initContainers": .merge(key: "name"),
            "ephemeralContainers": .merge(key: "name"), "volumes": .mergeRetainKeys(key: "name"),
            "imagePullSecrets": .merge(key: "name"), "hostAliases": .merge(key: "ip"),
            "topologySpreadConstraints": .merge(key: "topologyKey"), "resourceClaims": .mergeRetainKeys(key: "name"),
            "schedulingGates": .merge(key: "name"),
        ],
        "core.Container": containerLists,
        "core.EphemeralContainer": containerLists,
        "core.PodStatus": [
            "conditions": .merge(key: "type"), "podIPs": .merge(key: "ip"), "hostIPs": .merge(key: "ip"),
            "resourceClaimStatuses": .mergeRetainKeys(key: "name"),
        ],
        "core.NodeStatus": ["conditions": .merge(key: "type"), "addresses": .merge(key: "type")],
        "core.NodeSpec": ["podCIDRs": .merge(key: nil)],
        "core.ServiceSpec": ["ports": .merge(key: "port")],
        "core.ServiceStatus": conditionsByType,
        "core.NamespaceStatus": conditionsByType,
        "apps.DeploymentSpec": ["strategy": .retainKeys],
        "apps.DeploymentStatus": conditionsByType,
        "apps.ReplicaSetStatus": conditionsByType,
    ]

    func patchStrategy(definition: String?, field: String) -> PatchStrategy? {
        guard let definition else { return nil }
        return Self.patchMeta[definition]?[field]
    }

    /// The definition a field's values have (for objects, array elements and map values).
    func elementDefinition(_ t: FieldType?) -> String? {
        switch t {
        case .ref(let n)?: return n
        case .array(let e)?, .map(let e)?: return elementDefinition(e)
        default: return nil
        }
    }

    func fieldType(definition: String?, field: String) -> FieldType? {
        guard let definition else { return nil }
        return definitions[definition]?.field(field)?.type
    }

    // MARK: strict decoding

    /// Paths of fields the schema does not know (`spec.containers[0].imagee`).
    public func unknownFields(kind: String, group: String, object: JSON) -> [String] {
        guard let def = definitionName(kind: kind, group: group) else { return [] }
        var out: [String] = []
        walk(object, def: def, path: "", out: &out)
        return out
    }

    private func walk(_ v: JSON, def: String, path: String, out: inout [String]) {
        guard case .object(let o) = v, let d = definitions[def] else { return }
        for (k, child) in o {
            let p = path.isEmpty ? k : "\(path).\(k)"
            guard let f = d.field(k) else { out.append(p); continue }
            walk(child, type: f.type, path: p, out: &out)
        }
    }

    private func walk(_ v: JSON, type: FieldType, path: String, out: inout [String]) {
        switch (type, v) {
        case (.ref(let n), _): walk(v, def: n, path: path, out: &out)
        case (.array(let e), .array(let items)):
            for (i, item) in items.enumerated() { walk(item, type: e, path: "\(path)[\(i)]", out: &out) }
        case (.map(let e), .object(let o)):
            for (k, item) in o { walk(item, type: e, path: "\(path).\(k)", out: &out) }
        default: break
        }
    }
}
