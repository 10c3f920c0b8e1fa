import Crypto

/// OpenAPI v3 documents per group-version (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`)
/// in the shape kube-apiserver publishes: schemas under `components.schemas` named
/// `io.k8s.api.core.v1.Pod`, kinds tagged with `x-kubernetes-group-version-kind`, lists tagged
/// with `x-kubernetes-patch-strategy`/`-merge-key`, and PATCH operations listing the patch
/// content types and the `fieldValidation` parameter (kubectl apply checks for both).
struct OpenAPIDocuments: Sendable {
    /// Serialized documents by path suffix ("api/v1", "apis/apps/v1") and the root index.
    let documents: [String: [UInt8]]
    let hashes: [String: String]
    let root: [UInt8]

    init(resources: ResourceRegistry, schema: OpenAPISchema = .shared) {
        let components = Self.components(schema: schema, resources: resources)
        var docs: [String: [UInt8]] = [:]
        var hashes: [String: String] = [:]
        var gvs: [(String, String)] = [("", "v1")]
        for g in resources.groups { gvs.append((g, "v1")) }
        var rootPaths = JSONObject()
        for (g, v) in gvs {
            let key = g.isEmpty ? "api/\(v)" : "apis/\(g)/\(v)"
            let doc = JSON.obj([
                "openapi": "3.0.0",
                "info": .obj(["title": "Kubernetes", "version": .string(Discovery.gitVersion)]),
                "paths": .object(Self.paths(resources.resources(group: g, version: v), schema: schema)),
                "components": .obj(["schemas": components]),
            ])
            let bytes = doc.serialized()
            let hash = SHA256.hash(data: bytes).map { b in
                let digits = Array("0123456789ABCDEF")
                return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
            }.joined()
            docs[key] = bytes
            hashes[key] = hash
            rootPaths[key] = .obj(["serverRelativeURL": .string("/openapi/v3/\(key)?hash=\(hash)")])
        }
        documents = docs
        self.hashes = hashes
        root = JSON.obj(["paths": .object(rootPaths)]).serialized()
    }

    // MARK: schemas

    static func ref(_ short: String) -> JSON { .obj(["$ref": .string("#/components/schemas/\(OpenAPISchema.fullName(short))")]) }

    static func property(_ t: OpenAPISchema.FieldType) -> JSON {
        switch t {
        case .string: return .obj(["type": "string"])
        case .integer: return .obj(["type": "integer", "format": "int64"])
        case .number: return .obj(["type": "number", "format": "double"])
        case .boolean: return .obj(["type": "boolean"])
        case .bytes: return .obj(["type": "string", "format": "byte"])
        case .object: return .obj(["type": "object"])
        case .time: return .obj(["allOf": [ref("meta.Time")]])
        case .quantity: return .obj(["allOf": [.obj(["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"])]])
        case .intstr: return .obj(["allOf": [.obj(["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"])]])
        case .ref(let n): return .obj(["allOf": [ref(n)], "default": .obj([:])])
        case .array(let e): return .obj(["type": "array", "items": property(e)])
        case .map(let e): return .obj(["type": "object", "additionalProperties": property(e)])
        }
    }

    static func groupVersionKind(_ short: String, resources: ResourceRegistry) -> JSON? {
        guard let dot = short.firstIndex(of: ".") else { return nil }
        let prefix = short[..<dot], kind = String(short[short.index(after: dot)...])
        let group = OpenAPISchema.group(ofPrefix: prefix)
        let served = resources.all.contains { $0.kind == kind && $0.group == group }
        let extra = ["core.Binding", "autoscaling.Scale", "policy.Eviction", "meta.Status", "meta.DeleteOptions"].contains(short)
        guard served || extra else { return nil }
        return [.obj(["group": .string(group == "meta.k8s.io" ? "" : group), "kind": .string(kind), "version": "v1"])]
    }

    static func components(schema: OpenAPISchema, resources: ResourceRegistry) -> JSON {
        var out = JSONObject()
        for name in schema.definitions.keys.sorted() {
            guard let def = schema.definitions[name] else { continue }
            var props = JSONObject()
            var required: [JSON] = []
            for f in def.fields {
                var p = property(f.type)
                switch schema.patchStrategy(definition: name, field: f.name) {
                case .merge(let key)?:
                    p["x-kubernetes-patch-strategy"] = "merge"
                    if let key { p["x-kubernetes-patch-merge-key"] = .string(key) }
                case .mergeRetainKeys(let key)?:
                    p["x-kubernetes-patch-strategy"] = "merge,retainKeys"
                    p["x-kubernetes-patch-merge-key"] = .string(key)
                case .retainKeys?:
                    p["x-kubernetes-patch-strategy"] = "retainKeys"
                case nil: break
                }
                props[f.name] = p
                if f.required { required.append(.string(f.name)) }
            }
            var d = JSONObject()
            d["type"] = "object"
            if let desc = descriptions[name] { d["description"] = .string(desc) }
            d["properties"] = .object(props)
            if !required.isEmpty { d["required"] = .array(required) }
            if let gvk = groupVersionKind(name, resources: resources) { d["x-kubernetes-group-version-kind"] = gvk }
            out[OpenAPISchema.fullName(name)] = .object(d)
        }
        for r in resources.all {
            guard let item = schema.definitionName(kind: r.kind, group: r.group) else { continue }
            let listName = OpenAPISchema.fullName(item) + "List"
            out[listName] = .obj([
                "type": "object",
                "description": .string("A list of \(r.kind) objects."),
                "properties": .obj([
                    "apiVersion": .obj(["type": "string"]), "kind": .obj(["type": "string"]),
                    "metadata": .obj(["allOf": [ref("meta.ListMeta")], "default": .obj([:])]),
                    "items": .obj(["type": "array", "items": .obj(["allOf": [ref(item)], "default": .obj([:])])]),
                ]),
                "required": ["items"],
                "x-kubernetes-group-version-kind": [.obj(["group": .string(r.group), "kind": .string(r.kind + "List"), "version": "v1"])],
            ])
        }
        out["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] = .obj(["type": "string", "format": "date-time"])
        out["io.k8s.apimachinery.pkg.api.resource.Quantity"] = .obj([
            "type": "string", "description": "A fixed-point number with a suffix, such as 100m, 1Gi or 2.",
        ])
        out["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = .obj([
            "type": "string", "format": "int-or-string", "description": "Either an integer or a string.",
        ])
        out["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"] = .obj(["type": "object"])
        return .object(out)
    }

    /// Short summaries of the served kinds, in our own words (kubectl explain prints them).
    static let descriptions: [String: String] = [
        "core.Pod": "Pod is a group of containers that share network and storage, scheduled together onto one node.",
        "core.PodSpec": "The desired state of a pod: its containers, volumes and scheduling constraints.",
        "core.Container": "One container of a pod: the image to run, its command, environment, ports, mounts and resources.",
        "core.Service": "Service gives a set of pods, chosen by label selector, a stable virtual address and ports.",
        "core.Node": "Node is a worker host that runs pods; its status is reported by the node agent.",
        "core.Namespace": "Namespace scopes names of objects; deleting it deletes everything in it.",
        "core.ConfigMap": "ConfigMap holds non-secret configuration data as keys and values.",
        "core.Secret": "Secret holds sensitive data (base64 in data, plain text in stringData).",
        "core.Event": "Event records something that happened to an object, for people to read.",
        "core.ServiceAccount": "ServiceAccount is an identity for processes that run in pods.",
        "core.Endpoints": "Endpoints lists the addresses backing a Service (superseded by EndpointSlice).",
        "apps.Deployment": "Deployment declares a replicated, rolling-updated set of pods through ReplicaSets.",
        "apps.ReplicaSet": "ReplicaSet keeps a given number of pods matching its selector running.",
        "coordination.Lease": "Lease is a lightweight lock and heartbeat record (node heartbeats live in kube-node-lease).",
        "discovery.EndpointSlice": "EndpointSlice lists a subset of the endpoints of a Service with their readiness.",
        "certificates.CertificateSigningRequest": "CertificateSigningRequest asks a signer for a certificate; once approved, the certificate appears in its status.",
        "meta.ObjectMeta": "Metadata every persisted object has: name, namespace, labels, annotations and server-set fields.",
    ]

    // MARK: paths

    static func paths(_ rs: [ResourceType], schema: OpenAPISchema) -> JSONObject {
        var out = JSONObject()
        let queryParams: [JSON] = ["dryRun", "fieldManager", "fieldValidation", "pretty"].map {
            .obj(["name": .string($0), "in": "query", "schema": .obj(["type": "string", "uniqueItems": true])])
        }
        for r in rs {
            guard let item = schema.definitionName(kind: r.kind, group: r.group) else { continue }
            let base = (r.group.isEmpty ? "/api/v1" : "/apis/\(r.group)/v1") + (r.namespaced ? "/namespaces/{namespace}" : "")
            let gvk = JSON.obj(["group": .string(r.group), "version": "v1", "kind": .string(r.kind)])
            let opID = (r.group.isEmpty ? "Core" : (r.group.split(separator: ".").first.map { $0.prefix(1).uppercased() + $0.dropFirst() } ?? ""))
                + "V1" + (r.namespaced ? "Namespaced" : "") + r.kind
            func response(_ def: String) -> JSON {
                .obj(["200": .obj(["description": "OK", "content": .obj(["application/json": .obj(["schema": .obj(["$ref": .string("#/components/schemas/\(def)")])])])])])
            }
            func op(_ action: String, _ verb: String, body: Bool, patch: Bool = false, responseDef: String) -> JSON {
                var o = JSONObject()
                o["operationId"] = .string(verb + opID)
                o["parameters"] = .array(body || action == "delete" ? queryParams : [])
                if body {
                    var content = JSONObject()
                    if patch {
                        for t in ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"] {
                            content[t] = .obj(["schema": .obj(["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"])])
                        }
                    } else {
                        content["*/*"] = .obj(["schema": .obj(["$ref": .string("#/components/schemas/\(OpenAPISchema.fullName(item))")])])
                    }
                    o["requestBody"] = .obj(["content": .object(content), "required": true])
                }
                o["responses"] = response(responseDef)
                o["x-kubernetes-action"] = .string(action)
                o["x-kubernetes-group-version-kind"] = gvk
                return .object(o)
            }
            let full = OpenAPISchema.fullName(item)
            out["\(base)/\(r.plural)"] = .obj([
                "get": op("list", "list", body: false, responseDef: full + "List"),
                "post": op("post", "create", body: true, responseDef: full),
                "delete": op("deletecollection", "deleteCollection", body: false, responseDef: "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
            ])
            out["\(base)/\(r.plural)/{name}"] = .obj([
                "get": op("get", "read", body: false, responseDef: full),
                "put": op("put", "replace", body: true, responseDef: full),
                "patch": op("patch", "patch", body: true, patch: true, responseDef: full),
                "delete": op("delete", "delete", body: false, responseDef: "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
            ])
        }
        return out
    }
}
