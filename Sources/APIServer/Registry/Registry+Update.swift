/// The patch formats the API accepts, by their Content-Type.
public enum PatchType: String, Sendable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    /// Server-side apply. Field ownership is not tracked: the configuration is merged with
    /// strategic-merge rules and the object created when missing.
    case apply = "application/apply-patch+yaml"
}

extension Registry {
    /// PUT: replaces the object (or its status) with `object`, honouring its resourceVersion
    /// as a precondition (409 when stale).
    @discardableResult
    public func update(_ r: ResourceType, namespace: String, name: String, object: JSON, subresource: String = "",
                       context: RequestContext) throws -> (object: JSON, created: Bool)
    {
        let createIfMissing = subresource.isEmpty && Strategy.allowCreateOnUpdate(r)
        return try guaranteedUpdate(r, namespace: namespace, name: name, subresource: subresource, context: context,
                                    createWith: createIfMissing ? object : nil) { _ in object }
    }

    /// PATCH: applies the patch to the stored object, then runs the update rules.
    @discardableResult
    public func patch(_ r: ResourceType, namespace: String, name: String, type: PatchType, patch: JSON,
                      subresource: String = "", context: RequestContext) throws -> (object: JSON, created: Bool)
    {
        var createWith: JSON?
        if type == .apply, subresource.isEmpty {
            var o = patch
            if o.name.isEmpty { o.setMeta("name", .string(name)) }
            createWith = o
        }
        return try guaranteedUpdate(r, namespace: namespace, name: name, subresource: subresource, context: context,
                                    createWith: createWith) { old in
            try Self.applyPatch(type, patch, to: old, definition: OpenAPISchema.shared.definitionName(kind: r.kind, group: r.group))
        }
    }

    static func applyPatch(_ type: PatchType, _ patch: JSON, to old: JSON, definition: String?) throws -> JSON {
        do {
            switch type {
            case .merge:
                guard case .object = patch else { throw PatchError(message: "merge patch must be a JSON object") }
                return old.mergePatched(with: patch)
            case .json: return try old.jsonPatched(with: patch)
            case .strategic, .apply:
                guard case .object = patch else { throw PatchError(message: "strategic merge patch must be a JSON object") }
                return try old.strategicPatched(with: patch, definition: definition)
            }
        } catch let e as PatchError {
            throw APIError(code: 422, reason: "Invalid", message: e.message)
        }
    }

    /// Read-modify-write for in-process callers (controllers): `body` edits the current object;
    /// no resourceVersion precondition, the write is atomic under the store's lock.
    @discardableResult
    public func modify(_ r: ResourceType, namespace: String, name: String, subresource: String = "",
                       context: RequestContext = .controllers, _ body: (inout JSON) throws -> Void) throws -> JSON
    {
        try guaranteedUpdate(r, namespace: namespace, name: name, subresource: subresource, context: context, createWith: nil) { old in
            var o = old
            try body(&o)
            o.setMeta("resourceVersion", nil)
            return o
        }.object
    }

    private struct Missing: Error {}

    /// The heart of every update: computes the new object from the stored one under the write
    /// lock and commits it, skipping no-op writes (no new resourceVersion, no watch event).
    func guaranteedUpdate(
        _ r: ResourceType, namespace: String, name: String, subresource: String, context: RequestContext,
        createWith: JSON?, transform: (JSON) throws -> JSON
    ) throws -> (object: JSON, created: Bool) {
        let k = key(r, namespace, name)
        if context.dryRun {
            guard let old = try store.get(k) else {
                if let createWith { return (try create(r, namespace: namespace, object: createWith, context: context), true) }
                throw APIError.notFound(r, name)
            }
            var allocations = Admission.Allocations()
            let decision = try computeUpdate(r, namespace: namespace, name: name, subresource: subresource, context: context,
                                             old: old, transform: transform, allocations: &allocations)
            allocations.release(allocator)
            switch decision {
            case .put(let o), .unchanged(let o?): return (o, false)
            default: return (old, false)
            }
        }
        var allocations = Admission.Allocations()
        var previous: JSON?
        let result: StoreWriteResult
        do {
            result = try store.update(k) { current in
                guard let old = current else { throw Missing() }
                previous = old
                return try computeUpdate(r, namespace: namespace, name: name, subresource: subresource, context: context,
                                         old: old, transform: transform, allocations: &allocations)
            }
        } catch is Missing {
            if let createWith { return (try create(r, namespace: namespace, object: createWith, context: context), true) }
            throw APIError.notFound(r, name)
        } catch {
            allocations.release(allocator)
            throw error
        }
        if r.storageKey == "services", let previous, result.type != nil {
            Admission.serviceReleases(old: previous, new: result.type == .deleted ? nil : result.object).release(allocator)
        }
        return (result.object ?? previous ?? .null, false)
    }

    func computeUpdate(
        _ r: ResourceType, namespace: String, name: String, subresource: String, context: RequestContext, old: JSON,
        transform: (JSON) throws -> JSON, allocations: inout Admission.Allocations
    ) throws -> StoreWrite {
        var new = try transform(old)
        try checkKind(r, &new)
        if !new.name.isEmpty, new.name != name {
            throw APIError.badRequest("the name of the object (\(new.name)) does not match the name on the URL (\(name))")
        }
        if r.namespaced, !new.namespace.isEmpty, new.namespace != namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let rv = new.resourceVersion
        if !rv.isEmpty, rv != old.resourceVersion { throw APIError.staleUpdate(r, name) }
        let uid = new.uid
        if !uid.isEmpty, uid != old.uid {
            throw APIError.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(old.uid)")
        }
        if subresource.isEmpty { try checkUnknownFields(r, new, context) }
        Strategy.keepSystemMetadata(&new, old: old, r)
        Strategy.prepareForUpdate(r, subresource: subresource, new: &new, old: old)
        if old.deletionTimestamp != nil {
            let added = new.finalizers.filter { !old.finalizers.contains($0) }
            if !added.isEmpty {
                throw APIError.invalid(r, name, [.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers [\(added.map { "\"\($0)\"" }.joined(separator: " "))]")])
            }
        }
        Admission.applyDefaults(r, &new)
        let causes = Validation.validate(r, new) + Validation.validateUpdate(r, new: new, old: old)
        if !causes.isEmpty { throw APIError.invalid(r, name, causes) }
        try NodeRestriction.admit(user: context.user, verb: "update", resource: r, subresource: subresource, new: new, old: old)
        if Strategy.tracksGeneration(r), subresource.isEmpty || subresource == "scale", Strategy.specChanged(new, old) {
            new.setMeta("generation", .int(old.generation + 1))
        }
        if r.storageKey == "services", subresource.isEmpty {
            allocations = try Admission.allocateService(&new, old: old, allocator: allocator)
        }
        Self.normalizeMetadata(&new)
        var comparable = new
        comparable.setMeta("resourceVersion", .string(old.resourceVersion))
        if comparable == old { return .unchanged(old) }
        if new.deletionTimestamp != nil, new.finalizers.isEmpty, (old["metadata"]?["deletionGracePeriodSeconds"]?.int ?? 0) == 0 {
            return .delete
        }
        return .put(new)
    }
}
