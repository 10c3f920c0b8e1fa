import Foundation
import Logging

/// Keeps `spec.replicas` pods of each ReplicaSet alive: creates pods from the template
/// (owned through a controller ownerReference), deletes surplus ones (unscheduled, then
/// not-ready, then newest first) and reports replicas/ready/available in status.
struct ReplicaSetController: Controller {
    let name = "replicaset-controller"
    let watches = ["replicasets.apps", "pods"]
    let registry: Registry
    let events: EventRecorder
    let logger: Logger

    /// Pods created or deleted per sync at most (upstream's burst is 500).
    static let burst = 500

    func keys(for e: StoreEvent) async -> [String] {
        let obj = e.object()
        if e.key.resource == "replicasets.apps" { return ["\(obj.namespace)/\(obj.name)"] }
        var out: [String] = []
        for o in [obj, e.previous()].compactMap({ $0 }) {
            if let ref = o.controllerRef, ref["kind"]?.string == "ReplicaSet", let n = ref["name"]?.string {
                let k = "\(o.namespace)/\(n)"
                if !out.contains(k) { out.append(k) }
            }
        }
        return out
    }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.replicasets, namespace: nil).map { "\($0.namespace)/\($0.name)" }
    }

    static func isActive(_ pod: JSON) -> Bool {
        pod.deletionTimestamp == nil && !["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.string ?? "")
    }

    static func isReady(_ pod: JSON) -> Bool {
        (pod["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }
    }

    /// Ready for at least `minReadySeconds`.
    static func isAvailable(_ pod: JSON, minReadySeconds: Int64, now: Date) -> Bool {
        guard isReady(pod) else { return false }
        if minReadySeconds <= 0 { return true }
        let cond = (pod["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == "Ready" }
        guard let t = cond?["lastTransitionTime"]?.string, let d = Timestamp.parse(t) else { return false }
        return now.timeIntervalSince(d) >= Double(minReadySeconds)
    }

    /// The pods a workload owns, found through the ownership index instead of a namespace scan.
    static func ownedPods(_ registry: Registry, owner: JSON) throws -> [JSON] {
        let keys = try registry.store.dependents(of: owner.uid).filter { $0.resource == "pods" }
        var out: [JSON] = []
        for k in keys {
            if let p = try registry.store.get(k), p.controllerRef?["uid"]?.string == owner.uid { out.append(p) }
        }
        return out
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        let r = ResourceRegistry.replicasets
        guard let rs = try registry.getIfPresent(r, namespace: parts[0], name: parts[1]) else { return }
        let pods = try Self.ownedPods(registry, owner: rs)
        let active = pods.filter(Self.isActive)
        let want = Int(rs["spec"]?["replicas"]?.int ?? 1)
        var manageError: Error?
        if rs.deletionTimestamp == nil {
            do {
                if active.count < want {
                    try createPods(rs, count: min(want - active.count, Self.burst))
                } else if active.count > want {
                    try deletePods(rs, Self.deletionOrder(active).prefix(min(active.count - want, Self.burst)))
                }
            } catch {
                manageError = error
            }
        }
        try updateStatus(rs, pods: try Self.ownedPods(registry, owner: rs))
        if let manageError { throw manageError }
    }

    private func createPods(_ rs: JSON, count: Int) throws {
        let template = rs["spec"]?["template"] ?? .null
        var meta = template["metadata"]?.object ?? JSONObject()
        meta["creationTimestamp"] = nil
        meta["name"] = nil
        meta["generateName"] = .string(rs.name + "-")
        meta["namespace"] = .string(rs.namespace)
        meta["ownerReferences"] = [.obj([
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": .string(rs.name), "uid": .string(rs.uid),
            "controller": true, "blockOwnerDeletion": true,
        ])]
        let pod = JSON.obj(["apiVersion": "v1", "kind": "Pod", "metadata": .object(meta), "spec": template["spec"] ?? .obj([:])])
        for _ in 0..<count {
            do {
                let created = try registry.create(ResourceRegistry.pods, namespace: rs.namespace, object: pod, context: .controllers)
                events.record(rs, reason: "SuccessfulCreate", message: "Created pod: \(created.name)", component: "replicaset-controller")
            } catch let e as APIError {
                events.record(rs, type: "Warning", reason: "FailedCreate", message: "Error creating: \(e.message)", component: "replicaset-controller")
                throw e
            }
        }
    }

    private func deletePods(_ rs: JSON, _ pods: ArraySlice<JSON>) throws {
        for p in pods {
            do {
                try registry.delete(ResourceRegistry.pods, namespace: p.namespace, name: p.name,
                                    options: DeleteOptions(), context: .controllers)
                events.record(rs, reason: "SuccessfulDelete", message: "Deleted pod: \(p.name)", component: "replicaset-controller")
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
    }

    /// Upstream's preference for which pods go first when scaling down.
    static func deletionOrder(_ pods: [JSON]) -> [JSON] {
        func rank(_ p: JSON) -> (Int, Int, Int, String) {
            let unassigned = (p["spec"]?["nodeName"]?.string ?? "").isEmpty ? 0 : 1
            let phase = p["status"]?["phase"]?.string ?? ""
            let phaseRank = phase == "Pending" ? 0 : phase == "Unknown" ? 1 : 2
            let ready = isReady(p) ? 1 : 0
            return (unassigned, phaseRank, ready, p["metadata"]?["creationTimestamp"]?.string ?? "")
        }
        return pods.sorted { a, b in
            let ra = rank(a), rb = rank(b)
            if ra.0 != rb.0 { return ra.0 < rb.0 }
            if ra.1 != rb.1 { return ra.1 < rb.1 }
            if ra.2 != rb.2 { return ra.2 < rb.2 }
            return ra.3 > rb.3  // newer first
        }
    }

    private func updateStatus(_ rs: JSON, pods: [JSON]) throws {
        let active = pods.filter(Self.isActive)
        let minReady = rs["spec"]?["minReadySeconds"]?.int ?? 0
        let now = Date()
        let labels = rs["spec"]?["template"]?["metadata"]?["labels"]?.stringMap ?? [:]
        let fully = active.filter { p in labels.allSatisfy { p.labels[$0.key] == $0.value } }.count
        let ready = active.filter(Self.isReady).count
        let available = active.filter { Self.isAvailable($0, minReadySeconds: minReady, now: now) }.count
        var status = rs["status"]?.object ?? JSONObject()
        status["replicas"] = .int(Int64(active.count))
        status["fullyLabeledReplicas"] = .int(Int64(fully))
        status["readyReplicas"] = ready > 0 ? .int(Int64(ready)) : nil
        status["availableReplicas"] = available > 0 ? .int(Int64(available)) : nil
        status["observedGeneration"] = .int(rs.generation)
        if rs["status"]?.object == status { return }
        do {
            try registry.modify(ResourceRegistry.replicasets, namespace: rs.namespace, name: rs.name, subresource: "status") { o in
                o["status"] = .object(status)
            }
        } catch let e as APIError where e.code == 404 {
            return
        }
    }
}
