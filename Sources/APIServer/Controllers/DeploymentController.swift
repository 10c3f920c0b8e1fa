import Foundation
import Logging

/// Rolls Deployments out through ReplicaSets as upstream does: one ReplicaSet per pod
/// template (named by the template hash), RollingUpdate bounded by maxSurge/maxUnavailable
/// or Recreate, revision annotations, history cleanup, and the status fields and conditions
/// `kubectl rollout status` reads.
struct DeploymentController: Controller {
    let name = "deployment-controller"
    let watches = ["deployments.apps", "replicasets.apps"]
    let registry: Registry
    let events: EventRecorder
    let logger: Logger

    static let hashLabel = "pod-template-hash"
    static let revisionAnnotation = "deployment.kubernetes.io/revision"

    func keys(for e: StoreEvent) async -> [String] {
        let obj = e.object()
        if e.key.resource == "deployments.apps" { return ["\(obj.namespace)/\(obj.name)"] }
        if let ref = (obj.controllerRef ?? e.previous()?.controllerRef), ref["kind"]?.string == "Deployment", let n = ref["name"]?.string {
            return ["\(obj.namespace)/\(n)"]
        }
        return []
    }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.deployments, namespace: nil).map { "\($0.namespace)/\($0.name)" }
    }

    // MARK: template hashing

    /// FNV-1a of the template's canonical JSON, spelled with upstream's safe alphabet.
    static func templateHash(_ template: JSON, collisionCount: Int64) -> String {
        var h: UInt32 = 2_166_136_261
        for b in canonical(template).serialized() + Array(String(collisionCount).utf8) {
            h ^= UInt32(b)
            h = h &* 16_777_619
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(h).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    static func canonical(_ v: JSON) -> JSON {
        switch v {
        case .object(let o):
            var out = JSONObject()
            for k in o.keys.sorted() { out[k] = canonical(o[k] ?? .null) }
            return .object(out)
        case .array(let a): return .array(a.map(canonical))
        default: return v
        }
    }

    static func templateWithoutHash(_ t: JSON?) -> JSON {
        var t = t ?? .null
        if case .object(var labels)? = t["metadata"]?["labels"] {
            labels[hashLabel] = nil
            t.set(["metadata", "labels"], .object(labels))
        }
        t.set(["metadata", "creationTimestamp"], nil)
        return canonical(t)
    }

    /// maxSurge/maxUnavailable resolved against the replica count (percentages round up for
    /// surge, down for unavailable; both zero means one unavailable).
    static func rollingBounds(_ d: JSON, replicas: Int) -> (surge: Int, unavailable: Int) {
        let ru = d["spec"]?["strategy"]?["rollingUpdate"] ?? .null
        func resolve(_ v: JSON?, roundUp: Bool, default def: String) -> Int {
            let v = v ?? .string(def)
            if let i = v.int { return Int(i) }
            let s = v.string ?? def
            guard s.hasSuffix("%"), let p = Double(s.dropLast()) else { return Int(s) ?? 0 }
            let x = p * Double(replicas) / 100
            return Int(roundUp ? x.rounded(.up) : x.rounded(.down))
        }
        var surge = resolve(ru["maxSurge"], roundUp: true, default: "25%")
        var unavailable = resolve(ru["maxUnavailable"], roundUp: false, default: "25%")
        if surge == 0 && unavailable == 0 { unavailable = 1 }
        surge = max(surge, 0)
        unavailable = min(max(unavailable, 0), replicas)
        return (surge, unavailable)
    }

    static func replicas(_ o: JSON) -> Int { Int(o["spec"]?["replicas"]?.int ?? 0) }
    static func available(_ o: JSON) -> Int { Int(o["status"]?["availableReplicas"]?.int ?? 0) }
    static func revision(_ o: JSON) -> Int { Int(o.annotations[revisionAnnotation] ?? "") ?? 0 }

    // MARK: sync

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        guard let d = try registry.getIfPresent(ResourceRegistry.deployments, namespace: parts[0], name: parts[1]),
              d.deletionTimestamp == nil
        else { return }
        var owned: [JSON] = []
        for k in try registry.store.dependents(of: d.uid) where k.resource == "replicasets.apps" {
            if let rs = try registry.store.get(k), rs.controllerRef?["uid"]?.string == d.uid, rs.deletionTimestamp == nil { owned.append(rs) }
        }
        let want = Self.replicas(d)
        let target = Self.templateWithoutHash(d["spec"]?["template"])
        var newRS = owned.first { Self.templateWithoutHash($0["spec"]?["template"]) == target }
        var old = owned.filter { $0.uid != newRS?.uid }.sorted { Self.revision($0) < Self.revision($1) }
        let paused = d["spec"]?["paused"]?.bool == true
        let maxRevision = owned.map(Self.revision).max() ?? 0

        if newRS == nil, !paused {
            newRS = try createReplicaSet(d, revision: maxRevision + 1)
        } else if let n = newRS, !old.isEmpty, Self.revision(n) <= (old.map(Self.revision).max() ?? 0) {
            // A rollback to an older template: it becomes the newest revision.
            newRS = try registry.modify(ResourceRegistry.replicasets, namespace: n.namespace, name: n.name) { o in
                o.set(["metadata", "annotations", Self.revisionAnnotation], .string(String(maxRevision + 1)))
            }
        }
        if var n = newRS, !paused {
            if d["spec"]?["strategy"]?["type"]?.string == "Recreate" {
                var oldRunning = 0
                for i in old.indices {
                    if Self.replicas(old[i]) > 0 { old[i] = try scale(old[i], to: 0, d) }
                    oldRunning += Int(old[i]["status"]?["replicas"]?.int ?? 0)
                }
                if oldRunning == 0, Self.replicas(n) != want { n = try scale(n, to: want, d) }
            } else {
                let (surge, unavailable) = Self.rollingBounds(d, replicas: want)
                var total = ([n] + old).map(Self.replicas).reduce(0, +)
                if Self.replicas(n) < want {
                    let maxTotal = want + surge
                    if total < maxTotal {
                        let up = min(Self.replicas(n) + maxTotal - total, want)
                        total += up - Self.replicas(n)
                        n = try scale(n, to: up, d)
                    }
                } else if Self.replicas(n) > want {
                    total -= Self.replicas(n) - want
                    n = try scale(n, to: want, d)
                }
                if !old.isEmpty {
                    let minAvailable = want - unavailable
                    let newUnavailable = max(Self.replicas(n) - Self.available(n), 0)
                    var budget = total - minAvailable - newUnavailable
                    // Unhealthy old replicas go first: removing them costs no availability.
                    for i in old.indices where budget > 0 {
                        let unhealthy = max(Self.replicas(old[i]) - Self.available(old[i]), 0)
                        let cut = min(unhealthy, budget)
                        if cut > 0 {
                            old[i] = try scale(old[i], to: Self.replicas(old[i]) - cut, d)
                            budget -= cut
                        }
                    }
                    let allAvailable = ([n] + old).map(Self.available).reduce(0, +)
                    var healthyBudget = min(budget, allAvailable - minAvailable)
                    for i in old.indices where healthyBudget > 0 && Self.replicas(old[i]) > 0 {
                        let cut = min(Self.replicas(old[i]), healthyBudget)
                        old[i] = try scale(old[i], to: Self.replicas(old[i]) - cut, d)
                        healthyBudget -= cut
                    }
                }
            }
            newRS = n
            try cleanupHistory(d, old: old)
        }
        try updateStatus(d, newRS: newRS, all: ([newRS].compactMap { $0 } + old))
    }

    private func createReplicaSet(_ d: JSON, revision: Int) throws -> JSON {
        let collisions = d["status"]?["collisionCount"]?.int ?? 0
        let hash = Self.templateHash(Self.templateWithoutHash(d["spec"]?["template"]), collisionCount: collisions)
        var template = d["spec"]?["template"] ?? .null
        template.set(["metadata", "labels", Self.hashLabel], .string(hash))
        var selector = d["spec"]?["selector"] ?? .obj([:])
        selector.set(["matchLabels", Self.hashLabel], .string(hash))
        let want = Self.replicas(d)
        let surge = Self.rollingBounds(d, replicas: want).surge
        var labels = d["spec"]?["template"]?["metadata"]?["labels"]?.object ?? JSONObject()
        labels[Self.hashLabel] = .string(hash)
        var spec = JSONObject()
        spec["replicas"] = 0
        if let m = d["spec"]?["minReadySeconds"] { spec["minReadySeconds"] = m }
        spec["selector"] = selector
        spec["template"] = template
        let rs = JSON.obj([
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": .obj([
                "name": .string("\(d.name)-\(hash)"), "namespace": .string(d.namespace), "labels": .object(labels),
                "annotations": .obj([
                    "deployment.kubernetes.io/desired-replicas": .string(String(want)),
                    "deployment.kubernetes.io/max-replicas": .string(String(want + surge)),
                    Self.revisionAnnotation: .string(String(revision)),
                ]),
                "ownerReferences": [.obj(["apiVersion": "apps/v1", "kind": "Deployment", "name": .string(d.name), "uid": .string(d.uid),
                                          "controller": true, "blockOwnerDeletion": true])],
            ]),
            "spec": .object(spec),
        ])
        do {
            return try registry.create(ResourceRegistry.replicasets, namespace: d.namespace, object: rs, context: .controllers)
        } catch let e as APIError where e.reason == "AlreadyExists" {
            let existing = try registry.get(ResourceRegistry.replicasets, namespace: d.namespace, name: "\(d.name)-\(hash)")
            if existing.controllerRef?["uid"]?.string == d.uid { return existing }
            // A hash collision with someone else's ReplicaSet: count it and retry with a new name.
            try registry.modify(ResourceRegistry.deployments, namespace: d.namespace, name: d.name, subresource: "status") { o in
                o.set(["status", "collisionCount"], .int(collisions + 1))
            }
            throw e
        }
    }

    private func scale(_ rs: JSON, to n: Int, _ d: JSON) throws -> JSON {
        let from = Self.replicas(rs)
        if from == n { return rs }
        let want = Self.replicas(d)
        let surge = Self.rollingBounds(d, replicas: want).surge
        let updated = try registry.modify(ResourceRegistry.replicasets, namespace: rs.namespace, name: rs.name) { o in
            o.set(["spec", "replicas"], .int(Int64(n)))
            o.set(["metadata", "annotations", "deployment.kubernetes.io/desired-replicas"], .string(String(want)))
            o.set(["metadata", "annotations", "deployment.kubernetes.io/max-replicas"], .string(String(want + surge)))
        }
        events.record(d, reason: "ScalingReplicaSet",
                      message: "Scaled \(n > from ? "up" : "down") replica set \(rs.name) from \(from) to \(n)",
                      component: "deployment-controller")
        return updated
    }

    private func cleanupHistory(_ d: JSON, old: [JSON]) throws {
        let limit = Int(d["spec"]?["revisionHistoryLimit"]?.int ?? 10)
        let idle = old.filter { Self.replicas($0) == 0 && ($0["status"]?["replicas"]?.int ?? 0) == 0 }
        guard idle.count > limit else { return }
        for rs in idle.prefix(idle.count - limit) {
            do {
                try registry.delete(ResourceRegistry.replicasets, namespace: rs.namespace, name: rs.name, context: .controllers)
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
    }

    private func updateStatus(_ d: JSON, newRS: JSON?, all: [JSON]) throws {
        let want = Self.replicas(d)
        func sum(_ f: String) -> Int64 { all.map { $0["status"]?[f]?.int ?? 0 }.reduce(0, +) }
        let replicas = sum("replicas"), ready = sum("readyReplicas"), available = sum("availableReplicas")
        let updated = newRS?["status"]?["replicas"]?.int ?? 0
        let unavailable = max(Int64(want) - available, 0)
        let (_, maxUnavailable) = Self.rollingBounds(d, replicas: want)
        let isRecreate = d["spec"]?["strategy"]?["type"]?.string == "Recreate"
        let minAvailable = isRecreate ? want : want - maxUnavailable
        var status = d["status"]?.object ?? JSONObject()
        status["observedGeneration"] = .int(d.generation)
        status["replicas"] = replicas > 0 ? .int(replicas) : nil
        status["updatedReplicas"] = updated > 0 ? .int(updated) : nil
        status["readyReplicas"] = ready > 0 ? .int(ready) : nil
        status["availableReplicas"] = available > 0 ? .int(available) : nil
        status["unavailableReplicas"] = unavailable > 0 ? .int(unavailable) : nil
        let now = Timestamp.now()
        var conds = status["conditions"]?.array ?? []
        func setCondition(_ type: String, _ st: String, _ reason: String, _ message: String) {
            if let i = conds.firstIndex(where: { $0["type"]?.string == type }) {
                var c = conds[i]
                if c["status"]?.string == st && c["reason"]?.string == reason && c["message"]?.string == message { return }
                if c["status"]?.string != st { c["lastTransitionTime"] = .string(now) }
                c["status"] = .string(st)
                c["reason"] = .string(reason)
                c["message"] = .string(message)
                c["lastUpdateTime"] = .string(now)
                conds[i] = c
            } else {
                conds.append(.obj(["type": .string(type), "status": .string(st), "lastUpdateTime": .string(now),
                                   "lastTransitionTime": .string(now), "reason": .string(reason), "message": .string(message)]))
            }
        }
        if available >= Int64(minAvailable) {
            setCondition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        } else {
            setCondition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        }
        if let n = newRS {
            let complete = updated == Int64(want) && replicas == Int64(want) && available >= Int64(want)
            if complete {
                setCondition("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(n.name)\" has successfully progressed.")
            } else if !conds.contains(where: { $0["type"]?.string == "Progressing" }) {
                setCondition("Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"\(n.name)\"")
            } else {
                setCondition("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(n.name)\" is progressing.")
            }
        }
        conds.sort { ($0["type"]?.string ?? "") < ($1["type"]?.string ?? "") }
        status["conditions"] = .array(conds)
        let revision = newRS.map { String(Self.revision($0)) }
        let statusChanged = d["status"]?.object != status
        let revisionChanged = revision != nil && d.annotations[Self.revisionAnnotation] != revision
        if revisionChanged, let revision {
            try registry.modify(ResourceRegistry.deployments, namespace: d.namespace, name: d.name) { o in
                o.set(["metadata", "annotations", Self.revisionAnnotation], .string(revision))
            }
        }
        if statusChanged {
            try registry.modify(ResourceRegistry.deployments, namespace: d.namespace, name: d.name, subresource: "status") { o in
                o["status"] = .object(status)
            }
        }
    }
}
