extension Registry {
    /// `pods/binding`: assigns a pending pod to a node (the scheduler's only write to pods),
    /// 409 when it is already bound elsewhere.
    @discardableResult
    public func bind(namespace: String, pod name: String, node: String, uid: String? = nil, context: RequestContext) throws -> JSON {
        let r = ResourceRegistry.pods
        guard !node.isEmpty else { throw APIError.invalid(r, name, [.required("target.name")]) }
        let nowText = now
        let result = try store.update(key(r, namespace, name)) { current in
            guard var pod = current else { throw APIError.notFound(r, name) }
            if let uid, !uid.isEmpty, uid != pod.uid {
                throw APIError.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(pod.uid)")
            }
            if pod.deletionTimestamp != nil {
                throw APIError.conflict(r, name, "pod \(name) is being deleted, cannot be assigned to a host")
            }
            if let cur = pod["spec"]?["nodeName"]?.string, !cur.isEmpty {
                throw APIError.conflict(r, name, "pod \(name) is already assigned to node \"\(cur)\"")
            }
            pod.set(["spec", "nodeName"], .string(node))
            var conds = pod["status"]?["conditions"]?.array ?? []
            conds.removeAll { $0["type"]?.string == "PodScheduled" }
            conds.append(.obj(["type": "PodScheduled", "status": "True", "lastProbeTime": nil,
                               "lastTransitionTime": .string(nowText)]))
            pod.set(["status", "conditions"], .array(conds))
            return .put(pod)
        }
        return result.object ?? .null
    }

    /// `namespaces/{name}/finalize`: the only way `spec.finalizers` changes; a terminating
    /// namespace with none left is removed.
    @discardableResult
    public func finalizeNamespace(_ name: String, finalizers: [String], context: RequestContext) throws -> JSON {
        let r = ResourceRegistry.namespaces
        let result = try store.update(key(r, "", name)) { current in
            guard var ns = current else { throw APIError.notFound(r, name) }
            ns.set(["spec", "finalizers"], .array(finalizers.map { .string($0) }))
            if ns.deletionTimestamp != nil, finalizers.isEmpty, ns.finalizers.isEmpty { return .delete }
            return .put(ns)
        }
        return result.object ?? .null
    }

    /// `deployments/{name}/scale` and `replicasets/{name}/scale` as an `autoscaling/v1` Scale.
    public func scale(of obj: JSON) -> JSON {
        var meta = JSONObject()
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let v = obj["metadata"]?[k] { meta[k] = v }
        }
        let selector = (try? LabelSelector(object: obj["spec"]?["selector"] ?? .null)).map { sel in
            sel.requirements.map { req -> String in
                switch req.op {
                case .eq: return "\(req.key)=\(req.values.first ?? "")"
                case .neq: return "\(req.key)!=\(req.values.first ?? "")"
                case .in: return "\(req.key) in (\(req.values.joined(separator: ",")))"
                case .notIn: return "\(req.key) notin (\(req.values.joined(separator: ",")))"
                case .exists: return req.key
                case .notExists: return "!\(req.key)"
                }
            }.joined(separator: ",")
        } ?? ""
        return .obj([
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": .object(meta),
            "spec": .obj(["replicas": .int(obj["spec"]?["replicas"]?.int ?? 0)]),
            "status": .obj(["replicas": .int(obj["status"]?["replicas"]?.int ?? 0), "selector": .string(selector)]),
        ])
    }

    /// Writes a new Scale: only `spec.replicas` moves; the Scale's resourceVersion is a
    /// precondition on the parent object.
    @discardableResult
    public func updateScale(_ r: ResourceType, namespace: String, name: String, context: RequestContext,
                            _ newScale: (JSON) throws -> JSON) throws -> JSON
    {
        let scaleType = ResourceType(group: "autoscaling", version: "v1", plural: "scale", singular: "scale", kind: "Scale",
                                     namespaced: true, shortNames: [], categories: [], subresources: [:])
        return try guaranteedUpdate(r, namespace: namespace, name: name, subresource: "scale", context: context, createWith: nil) { old in
            let s = try newScale(scale(of: old))
            guard let replicas = s["spec"]?["replicas"]?.int else {
                throw APIError.invalid(scaleType, name, [.required("spec.replicas")])
            }
            if replicas < 0 {
                throw APIError.invalid(scaleType, name, [.invalid("spec.replicas", .int(replicas), "must be greater than or equal to 0")])
            }
            var o = old
            o.set(["spec", "replicas"], .int(replicas))
            o.setMeta("resourceVersion", s["metadata"]?["resourceVersion"] ?? .string(old.resourceVersion))
            return o
        }.object
    }
}
