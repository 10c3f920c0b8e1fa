import Logging

/// Gives every namespace its `default` ServiceAccount, and empties terminating namespaces:
/// everything in them is deleted, then the `kubernetes` finalizer is removed and the
/// namespace goes away (upstream's namespace and service-account controllers).
struct NamespaceController: Controller {
    let name = "namespace-controller"
    let watches = [WatchHub.allResources]
    let registry: Registry
    let logger: Logger

    func keys(for e: StoreEvent) async -> [String] {
        if e.key.resource == "namespaces" { return [e.key.name] }
        // Content leaving a namespace may let a terminating namespace finish.
        if e.type == .deleted, !e.key.namespace.isEmpty { return ["content:\(e.key.namespace)"] }
        if e.type == .deleted, e.key.resource == "serviceaccounts" { return [e.key.namespace] }
        return []
    }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.namespaces, namespace: nil).map(\.name)
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        let contentOnly = key.hasPrefix("content:")
        let name = contentOnly ? String(key.dropFirst("content:".count)) : key
        guard let ns = try registry.getIfPresent(ResourceRegistry.namespaces, namespace: "", name: name) else { return }
        guard ns.deletionTimestamp != nil else {
            if !contentOnly { try ensureServiceAccount(name) }
            return
        }
        var remaining = 0
        for r in registry.resources.all where r.namespaced {
            let page = try registry.store.list(resource: r.storageKey, namespace: name)
            for bytes in page.items {
                remaining += 1
                guard let o = try? JSON.parse(bytes), o.deletionTimestamp == nil else { continue }
                do {
                    try registry.delete(r, namespace: name, name: o.name, options: DeleteOptions(propagationPolicy: "Background"),
                                        context: .controllers)
                } catch let e as APIError where e.code == 404 {
                    continue
                }
            }
        }
        if remaining == 0 {
            let left = (ns["spec"]?["finalizers"]?.array ?? []).compactMap(\.string).filter { $0 != "kubernetes" }
            try registry.finalizeNamespace(name, finalizers: left, context: .controllers)
        }
    }

    private func ensureServiceAccount(_ ns: String) throws {
        let r = ResourceRegistry.serviceaccounts
        if try registry.getIfPresent(r, namespace: ns, name: "default") != nil { return }
        do {
            _ = try registry.create(r, namespace: ns, object: .obj(["metadata": .obj(["name": "default"])]), context: .controllers)
        } catch let e as APIError where e.reason == "AlreadyExists" || e.code == 403 {
            return
        }
    }
}
