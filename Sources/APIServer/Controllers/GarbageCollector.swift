import Logging

/// Deletes objects whose owners are gone (background propagation), empties owners being
/// deleted in the foreground before letting them go, and orphans dependents of owners deleted
/// with `propagationPolicy: Orphan` — upstream's garbage collector, driven by the store's
/// ownership index instead of an in-memory graph.
struct GarbageCollector: Controller {
    let name = "garbage-collector"
    let watches = [WatchHub.allResources]
    let registry: Registry
    let logger: Logger

    func keys(for e: StoreEvent) async -> [String] {
        let obj = e.object()
        var out: [String] = []
        if e.type == .deleted {
            if !obj.uid.isEmpty { out.append("gone:\(obj.uid)") }
            // An owner deleting in the foreground may have been waiting for this one.
            for u in obj.ownerUIDs { out.append("owner:\(u)") }
        } else if obj.deletionTimestamp != nil, obj.finalizers.contains(where: { $0 == "orphan" || $0 == "foregroundDeletion" }) {
            out.append("owner:\(obj.uid)")
        }
        return out
    }

    func resyncKeys() async throws -> [String] {
        var out = try registry.store.missingOwners().map { "gone:\($0)" }
        let needles = [Array("\"foregroundDeletion\"".utf8), Array("\"orphan\"".utf8)]
        for r in registry.resources.all {
            let page = try registry.store.list(resource: r.storageKey, namespace: nil) { b in needles.contains { b.contains(subsequence: $0) } }
            for bytes in page.items {
                if let o = try? JSON.parse(bytes), o.deletionTimestamp != nil { out.append("owner:\(o.uid)") }
            }
        }
        return out
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        if key.hasPrefix("gone:") { try collectDependents(of: String(key.dropFirst(5))) }
        if key.hasPrefix("owner:") { try processDeletingOwner(String(key.dropFirst(6))) }
    }

    private func resource(_ k: ObjectKey) -> ResourceType? { registry.resources.byStorageKey(k.resource) }

    /// The owner is gone: dependents with no other live owner are deleted; the others lose the
    /// dangling reference.
    private func collectDependents(of uid: String) throws {
        if try registry.store.exists(uid: uid) { return }
        for k in try registry.store.dependents(of: uid) {
            guard let r = resource(k), let dep = try registry.store.get(k) else { continue }
            var live: [String] = []
            for u in dep.ownerUIDs where u != uid {
                if try registry.store.exists(uid: u) { live.append(u) }
            }
            do {
                if live.isEmpty {
                    if dep.deletionTimestamp != nil { continue }
                    let blocked = dep.ownerReferences.contains { $0["uid"]?.string == uid && $0["blockOwnerDeletion"]?.bool == true }
                    logger.debug("garbage-collector: deleting \(k), owner \(uid) is gone")
                    try registry.delete(r, namespace: k.namespace, name: k.name,
                                        options: DeleteOptions(propagationPolicy: blocked ? "Background" : nil), context: .controllers)
                } else {
                    try registry.modify(r, namespace: k.namespace, name: k.name) { o in
                        let refs = o.ownerReferences.filter { live.contains($0["uid"]?.string ?? "") }
                        o.setMeta("ownerReferences", refs.isEmpty ? nil : .array(refs))
                    }
                }
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
    }

    private func processDeletingOwner(_ uid: String) throws {
        guard let (key, owner) = try registry.store.get(uid: uid), owner.deletionTimestamp != nil, let r = resource(key) else { return }
        let deps = try registry.store.dependents(of: uid)
        if owner.finalizers.contains("orphan") {
            for k in deps {
                guard let dr = resource(k) else { continue }
                do {
                    try registry.modify(dr, namespace: k.namespace, name: k.name) { o in
                        let refs = o.ownerReferences.filter { $0["uid"]?.string != uid }
                        o.setMeta("ownerReferences", refs.isEmpty ? nil : .array(refs))
                    }
                } catch let e as APIError where e.code == 404 {
                    continue
                }
            }
            try removeFinalizer("orphan", r, key)
            return
        }
        if owner.finalizers.contains("foregroundDeletion") {
            var waiting = 0
            for k in deps {
                guard let dr = resource(k), let dep = try registry.store.get(k) else { continue }
                waiting += 1
                if dep.deletionTimestamp != nil { continue }
                do {
                    try registry.delete(dr, namespace: k.namespace, name: k.name, options: DeleteOptions(propagationPolicy: "Foreground"),
                                        context: .controllers)
                } catch let e as APIError where e.code == 404 {
                    waiting -= 1
                }
            }
            if waiting == 0 { try removeFinalizer("foregroundDeletion", r, key) }
        }
    }

    private func removeFinalizer(_ f: String, _ r: ResourceType, _ key: ObjectKey) throws {
        do {
            try registry.modify(r, namespace: key.namespace, name: key.name) { o in
                let rest = o.finalizers.filter { $0 != f }
                o.setMeta("finalizers", rest.isEmpty ? nil : .array(rest.map { .string($0) }))
            }
        } catch let e as APIError where e.code == 404 {
            return
        }
    }
}
