/// Upstream's `DeleteOptions`, the parts that change behaviour.
public struct DeleteOptions: Sendable {
    public var gracePeriodSeconds: Int64?
    /// `Orphan`, `Background` or `Foreground`.
    public var propagationPolicy: String?
    public var preconditionUID: String?
    public var preconditionResourceVersion: String?
    public var dryRun = false

    public init(gracePeriodSeconds: Int64? = nil, propagationPolicy: String? = nil) {
        self.gracePeriodSeconds = gracePeriodSeconds
        self.propagationPolicy = propagationPolicy
    }

    /// Reads a `DeleteOptions` body (kubectl sends one with every delete).
    public init(json: JSON) throws(APIError) {
        if let g = json["gracePeriodSeconds"], g != .null {
            guard let v = g.int else { throw APIError.badRequest("gracePeriodSeconds: must be an integer") }
            gracePeriodSeconds = v
        }
        propagationPolicy = json["propagationPolicy"]?.string
        if propagationPolicy == nil, let orphan = json["orphanDependents"]?.bool {
            propagationPolicy = orphan ? "Orphan" : "Background"
        }
        if let p = propagationPolicy, !["Orphan", "Background", "Foreground"].contains(p) {
            throw APIError.invalid(ResourceType.deleteOptions, "", [.notSupported("propagationPolicy", .string(p), ["Foreground", "Background", "Orphan"])])
        }
        preconditionUID = json["preconditions"]?["uid"]?.string
        preconditionResourceVersion = json["preconditions"]?["resourceVersion"]?.string
        dryRun = !(json["dryRun"]?.array ?? []).isEmpty
    }
}

extension ResourceType {
    /// Names the kind in 422s about delete options.
    static let deleteOptions = ResourceType(group: "", version: "v1", plural: "deleteoptions", singular: "deleteoptions",
                                            kind: "DeleteOptions", namespaced: false, shortNames: [], categories: [], subresources: [:])
}

public enum DeleteOutcome: Sendable {
    /// Gone from storage; the last state.
    case deleted(JSON)
    /// Still stored with a deletionTimestamp (grace period or finalizers pending).
    case pending(JSON)

    public var object: JSON {
        switch self {
        case .deleted(let o), .pending(let o): return o
        }
    }
}

extension Registry {
    /// Deletes as upstream: preconditions, graceful pod deletion (deletionTimestamp + grace),
    /// finalizers (`orphan`/`foregroundDeletion` from the propagation policy), namespaces
    /// going Terminating until their content is gone.
    @discardableResult
    public func delete(_ r: ResourceType, namespace: String, name: String, options: DeleteOptions = DeleteOptions(),
                       context: RequestContext) throws -> DeleteOutcome
    {
        let k = key(r, namespace, name)
        if options.dryRun || context.dryRun {
            guard let obj = try store.get(k) else { throw APIError.notFound(r, name) }
            return .deleted(obj)
        }
        let nowText = now
        let nowDate = clock()
        let result = try store.update(k) { current in
            guard var obj = current else { throw APIError.notFound(r, name) }
            if let uid = options.preconditionUID, uid != obj.uid {
                throw APIError.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(obj.uid)")
            }
            if let rv = options.preconditionResourceVersion, rv != obj.resourceVersion {
                throw APIError.conflict(r, name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(obj.resourceVersion)")
            }
            try NodeRestriction.admit(user: context.user, verb: "delete", resource: r, subresource: "", new: nil, old: obj)

            var grace: Int64 = 0
            if r.storageKey == "pods" {
                grace = options.gracePeriodSeconds ?? obj["spec"]?["terminationGracePeriodSeconds"]?.int ?? 30
                let phase = obj["status"]?["phase"]?.string ?? ""
                if (obj["spec"]?["nodeName"]?.string ?? "").isEmpty || phase == "Succeeded" || phase == "Failed" { grace = 0 }
                if grace < 0 { grace = 1 }
            }
            var finalizers = obj.finalizers
            switch options.propagationPolicy {
            case "Orphan"?:
                if !finalizers.contains("orphan") { finalizers.append("orphan") }
                finalizers.removeAll { $0 == "foregroundDeletion" }
            case "Foreground"?:
                if !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
                finalizers.removeAll { $0 == "orphan" }
            default: break
            }
            let nsFinalizers = r.storageKey == "namespaces" ? (obj["spec"]?["finalizers"]?.array ?? []) : []

            if obj.deletionTimestamp != nil {
                // Already deleting: a shorter grace period moves the deadline; grace 0 with no
                // finalizers removes it now.
                let oldGrace = obj["metadata"]?["deletionGracePeriodSeconds"]?.int ?? 0
                if r.storageKey == "pods", grace < oldGrace {
                    if grace == 0 && obj.finalizers.isEmpty { return .delete }
                    obj.setMeta("deletionGracePeriodSeconds", .int(grace))
                    obj.setMeta("deletionTimestamp", .string(Timestamp.format(nowDate.addingTimeInterval(Double(grace)))))
                    return .put(obj)
                }
                if finalizers != obj.finalizers, !finalizers.isEmpty {
                    obj.setMeta("finalizers", .array(finalizers.map { .string($0) }))
                    return .put(obj)
                }
                return .unchanged(obj)
            }
            if finalizers.isEmpty, grace == 0, nsFinalizers.isEmpty { return .delete }
            obj.setMeta("deletionTimestamp", .string(grace > 0 ? Timestamp.format(nowDate.addingTimeInterval(Double(grace))) : nowText))
            obj.setMeta("deletionGracePeriodSeconds", .int(grace))
            if !finalizers.isEmpty { obj.setMeta("finalizers", .array(finalizers.map { .string($0) })) }
            if Strategy.tracksGeneration(r) { obj.setMeta("generation", .int(obj.generation + 1)) }
            if r.storageKey == "namespaces" { obj.set(["status", "phase"], "Terminating") }
            Self.normalizeMetadata(&obj)
            return .put(obj)
        }
        let last = result.object ?? .null
        if result.type == .deleted {
            if r.storageKey == "services" { allocator.release(service: last) }
            return .deleted(last)
        }
        return .pending(last)
    }
}
