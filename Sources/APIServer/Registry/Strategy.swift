/// Per-kind rules of upstream's REST strategies: what a create resets, what an update of the
/// main resource or of `status` may change, which kinds track `generation`.
enum Strategy {
    static func hasStatusSubresource(_ r: ResourceType) -> Bool { r.subresources["status"] != nil }

    /// Kinds whose `metadata.generation` counts spec changes (controllers report
    /// `status.observedGeneration` against it).
    static func tracksGeneration(_ r: ResourceType) -> Bool {
        ["deployments.apps", "replicasets.apps"].contains(r.storageKey)
    }

    /// PUT on a missing object creates it for these, as upstream's `AllowCreateOnUpdate`.
    static func allowCreateOnUpdate(_ r: ResourceType) -> Bool {
        ["events", "endpoints", "leases.coordination.k8s.io"].contains(r.storageKey)
    }

    /// DELETE answers with the object for these, a `Status` for the rest.
    static func returnsDeletedObject(_ r: ResourceType) -> Bool {
        ["pods", "services", "namespaces", "nodes"].contains(r.storageKey)
    }

    static func prepareForCreate(_ r: ResourceType, _ obj: inout JSON) {
        if tracksGeneration(r) { obj.setMeta("generation", 1) }
        switch r.storageKey {
        case "pods":
            // Clients cannot create a pod with a status: it starts Pending (qosClass is added
            // by defaulting).
            obj["status"] = .obj(["phase": "Pending"])
        case "deployments.apps", "replicasets.apps":
            obj["status"] = .object(JSONObject())
        case "services":
            obj["status"] = .obj(["loadBalancer": .object(JSONObject())])
        case "namespaces":
            var labels = obj["metadata"]?["labels"]?.object ?? JSONObject()
            labels["kubernetes.io/metadata.name"] = .string(obj.name)
            obj.setMeta("labels", .object(labels))
            obj.set(["spec", "finalizers"], ["kubernetes"])
            obj["status"] = .obj(["phase": "Active"])
        default:
            break
        }
    }

    /// Applies the rules of an update: `status` writes change only status, main-resource
    /// writes keep the stored status; system metadata is never taken from the client.
    static func prepareForUpdate(_ r: ResourceType, subresource: String, new: inout JSON, old: JSON) {
        if subresource == "approval" {
            // Only the Approved/Denied conditions change here (kubectl certificate approve).
            var merged = old
            merged.set(["status", "conditions"], new["status"]?["conditions"])
            if let rv = new["metadata"]?["resourceVersion"] { merged.setMeta("resourceVersion", rv) }
            new = merged
            return
        }
        if subresource == "status" {
            var merged = old
            merged["status"] = new["status"] ?? .object(JSONObject())
            if r.storageKey == "pods" || r.storageKey == "nodes" {
                // Kubelets update labels and annotations through status as well.
                merged.setMeta("labels", new["metadata"]?["labels"])
                merged.setMeta("annotations", new["metadata"]?["annotations"])
            }
            if let rv = new["metadata"]?["resourceVersion"] { merged.setMeta("resourceVersion", rv) }
            new = merged
            return
        }
        if hasStatusSubresource(r) {
            new["status"] = old["status"]
        }
        if r.storageKey == ResourceRegistry.csrs.storageKey {
            new["spec"] = old["spec"]  // a request is immutable once made
        }
        if r.storageKey == "namespaces" {
            // spec.finalizers changes only through /finalize.
            new.set(["spec", "finalizers"], old["spec"]?["finalizers"])
            if let labels = new["metadata"]?["labels"]?.object {
                var l = labels
                l["kubernetes.io/metadata.name"] = .string(old.name)
                new.setMeta("labels", .object(l))
            } else {
                new.setMeta("labels", .obj(["kubernetes.io/metadata.name": .string(old.name)]))
            }
        }
    }

    /// Copies what only the server sets from the stored object.
    static func keepSystemMetadata(_ new: inout JSON, old: JSON, _ r: ResourceType) {
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace", "name", "generateName"] {
            new.setMeta(k, old["metadata"]?[k])
        }
        new.setMeta("selfLink", nil)
    }

    /// The spec (or whole object minus metadata and status) changed: generation moves.
    static func specChanged(_ new: JSON, _ old: JSON) -> Bool {
        var a = new, b = old
        for k in ["metadata", "status", "kind", "apiVersion"] { a[k] = nil; b[k] = nil }
        return a != b
    }
}
