extension Registry {
    /// Creates an object: server-set metadata, defaults, validation, admission, then one
    /// committed insert (409 AlreadyExists when the name is taken).
    public func create(_ r: ResourceType, namespace: String, object: JSON, context: RequestContext) throws -> JSON {
        var obj = object
        try checkKind(r, &obj)
        if r.namespaced {
            let bodyNS = obj.namespace
            if !bodyNS.isEmpty, bodyNS != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            obj.setMeta("namespace", .string(namespace))
        } else {
            obj.setMeta("namespace", nil)
        }
        let generateName = obj["metadata"]?["generateName"]?.string ?? ""
        let generated = obj.name.isEmpty && !generateName.isEmpty
        if r.namespaced { try requireNamespace(namespace, for: r, name: obj.name.isEmpty ? generateName : obj.name) }
        try checkUnknownFields(r, obj, context)

        var attempts = 0
        while true {
            attempts += 1
            var candidate = obj
            if generated {
                candidate.setMeta("name", .string(Validation.generatedName(generateName)))
            }
            do {
                return try createOnce(r, namespace: namespace, candidate, context: context)
            } catch let e as APIError where generated && e.reason == "AlreadyExists" && attempts < 5 {
                continue
            }
        }
    }

    private func createOnce(_ r: ResourceType, namespace: String, _ input: JSON, context: RequestContext) throws -> JSON {
        var obj = input
        obj.setMeta("uid", .string(Identifiers.uid()))
        obj.setMeta("creationTimestamp", .string(now))
        for k in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation", "managedFields"] {
            obj.setMeta(k, nil)
        }
        Strategy.prepareForCreate(r, &obj)
        if r.storageKey == ResourceRegistry.csrs.storageKey { NodeClientCSR.prepareForCreate(&obj, user: context.user) }
        Admission.applyDefaults(r, &obj)
        let causes = Validation.validate(r, obj)
        if !causes.isEmpty { throw APIError.invalid(r, obj.name, causes) }
        try NodeRestriction.admit(user: context.user, verb: "create", resource: r, subresource: "", new: obj, old: nil,
                                  nodeUID: { [store] name in (try? store.get(ObjectKey("nodes", "", name)))?.uid })

        var allocations = Admission.Allocations()
        if r.storageKey == "services" {
            allocations = try Admission.allocateService(&obj, old: nil, allocator: allocator)
        }
        Self.normalizeMetadata(&obj)
        if context.dryRun {
            allocations.release(allocator)
            return obj
        }
        do {
            let name = obj.name
            let result = try store.update(key(r, namespace, name)) { current in
                if current != nil { throw APIError.alreadyExists(r, name) }
                return .put(obj)
            }
            return result.object ?? obj
        } catch {
            allocations.release(allocator)
            throw error
        }
    }

    /// With `fieldValidation=Strict`, fields the schema does not know are a 400, as upstream's
    /// strict decoding; otherwise they are kept (unknown fields are preserved).
    func checkUnknownFields(_ r: ResourceType, _ obj: JSON, _ context: RequestContext) throws {
        guard context.fieldValidation == "Strict" else { return }
        let unknown = OpenAPISchema.shared.unknownFields(kind: r.kind, group: r.group, object: obj)
        guard !unknown.isEmpty else { return }
        let list = unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
        throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): strict decoding error: \(list)")
    }
}
