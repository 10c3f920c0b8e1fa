import Foundation
import Logging
import Synchronization

/// Watches node heartbeats (the Ready condition and the node's Lease in kube-node-lease):
/// a node silent for the grace period turns `Ready=Unknown`, gets the `unreachable` taints and
/// its pods are marked not ready; NoExecute taints evict pods once their toleration runs out
/// (300 s by default); pods bound to nodes that no longer exist are removed (pod GC).
final class NodeLifecycleController: Controller {
    let name = "node-lifecycle-controller"
    let watches: [String] = []
    let registry: Registry
    let settings: ControllerSettings
    let events: EventRecorder
    let logger: Logger
    /// When a pod was first seen bound to a missing node (pod GC quarantine).
    private let orphans = Mutex<[String: Date]>([:])
    /// Per node, the newest heartbeat seen and when this controller saw it change (upstream's
    /// probeTimestamp): silence is measured on this clock, so a restarted API server gives every
    /// node a full grace period instead of judging it by timestamps from before the restart.
    private let observed = Mutex<[String: (heartbeat: Date, seen: Date)]>([:])

    init(registry: Registry, settings: ControllerSettings, events: EventRecorder, logger: Logger) {
        self.registry = registry
        self.settings = settings
        self.events = events
        self.logger = logger
    }

    var tickInterval: Duration? { settings.nodeMonitorPeriod }
    func keys(for e: StoreEvent) async -> [String] { [] }
    func resyncKeys() async throws -> [String] { [] }
    func sync(_ key: String) async throws {}

    static let notReadyTaint = "node.kubernetes.io/not-ready"
    static let unreachableTaint = "node.kubernetes.io/unreachable"
    static let unschedulableTaint = "node.kubernetes.io/unschedulable"

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func tick() async throws {
        let now = Date()
        let nodes = try registry.list(ResourceRegistry.nodes, namespace: nil)
        var leases: [String: JSON] = [:]
        for l in try registry.list(ResourceRegistry.leases, namespace: "kube-node-lease") { leases[l.name] = l }
        for var node in nodes {
            node = try monitor(node, lease: leases[node.name], now: now)
            node = try reconcileTaints(node, now: now)
            try evict(node, now: now)
        }
        let names = Set(nodes.map(\.name))
        observed.withLock { m in m = m.filter { names.contains($0.key) } }
        try collectOrphans(names, now: now)
    }

    /// Marks a silent node's conditions Unknown.
    private func monitor(_ node: JSON, lease: JSON?, now: Date) throws -> JSON {
        let conds = node["status"]?["conditions"]?.array ?? []
        let ready = conds.first { $0["type"]?.string == "Ready" }
        var last = Timestamp.parse(node["metadata"]?["creationTimestamp"]?.string ?? "") ?? now
        if let t = ready?["lastHeartbeatTime"]?.string, let d = Timestamp.parse(t), d > last { last = d }
        if let t = lease?["spec"]?["renewTime"]?.string, let d = Timestamp.parse(t), d > last { last = d }
        let seen = observed.withLock { m in
            if let o = m[node.name], o.heartbeat == last { return o.seen }
            m[node.name] = (last, now)
            return now
        }
        let silence = now.timeIntervalSince(seen)
        guard silence > Self.seconds(settings.nodeMonitorGracePeriod), ready?["status"]?.string != "Unknown" else {
            return node
        }
        let stamp = Timestamp.format(now)
        let updated = try registry.modify(ResourceRegistry.nodes, namespace: "", name: node.name, subresource: "status") { n in
            var cs = n["status"]?["conditions"]?.array ?? []
            if !cs.contains(where: { $0["type"]?.string == "Ready" }) {
                cs.append(.obj(["type": "Ready", "status": "Unknown", "lastHeartbeatTime": .string(stamp), "lastTransitionTime": .string(stamp),
                                "reason": "NodeStatusNeverUpdated", "message": "Kubelet never posted node status."]))
            }
            for i in cs.indices where ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"].contains(cs[i]["type"]?.string ?? "") {
                if cs[i]["status"]?.string == "Unknown" { continue }
                cs[i]["status"] = "Unknown"
                cs[i]["reason"] = "NodeStatusUnknown"
                cs[i]["message"] = "Kubelet stopped posting node status."
                cs[i]["lastTransitionTime"] = .string(stamp)
            }
            n.set(["status", "conditions"], .array(cs))
        }
        logger.info("node \(node.name): no heartbeat for \(Int(silence))s, Ready=Unknown")
        events.record(node, reason: "NodeNotReady", message: "Node \(node.name) status is now: NodeNotReady", component: "node-controller")
        try markPodsNotReady(node.name, stamp: stamp)
        return updated
    }

    /// Pods bound to `node`, visited page by page (a node may hold many).
    private func forEachPod(on node: String, _ body: (JSON) throws -> Void) throws {
        let needle = Array("\"nodeName\":\(JSON.string(node).text)".utf8)
        try registry.store.scan(resource: "pods", namespace: nil) { bytes in
            guard bytes.contains(subsequence: needle), let p = try? JSON.parse(bytes), p["spec"]?["nodeName"]?.string == node else { return }
            try body(p)
        }
    }

    private func markPodsNotReady(_ node: String, stamp: String) throws {
        try forEachPod(on: node) { pod in
            let conds = pod["status"]?["conditions"]?.array ?? []
            guard conds.contains(where: { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }) else { return }
            _ = try? registry.modify(ResourceRegistry.pods, namespace: pod.namespace, name: pod.name, subresource: "status") { p in
                var cs = p["status"]?["conditions"]?.array ?? []
                for i in cs.indices where cs[i]["type"]?.string == "Ready" {
                    cs[i]["status"] = "False"
                    cs[i]["lastTransitionTime"] = .string(stamp)
                }
                p.set(["status", "conditions"], .array(cs))
            }
        }
    }

    /// The not-ready/unreachable/unschedulable taints follow the Ready condition and
    /// `spec.unschedulable`, as upstream's taint-based eviction sets them.
    private func reconcileTaints(_ node: JSON, now: Date) throws -> JSON {
        let ready = Scheduler.readyStatus(node)
        var wanted: [(String, String)] = []
        if ready == "False" { wanted = [(Self.notReadyTaint, "NoSchedule"), (Self.notReadyTaint, "NoExecute")] }
        if ready == "Unknown" { wanted = [(Self.unreachableTaint, "NoSchedule"), (Self.unreachableTaint, "NoExecute")] }
        if node["spec"]?["unschedulable"]?.bool == true { wanted.append((Self.unschedulableTaint, "NoSchedule")) }
        let managed = [Self.notReadyTaint, Self.unreachableTaint, Self.unschedulableTaint]
        let current = node["spec"]?["taints"]?.array ?? []
        var next = current.filter { t in
            let k = t["key"]?.string ?? "", e = t["effect"]?.string ?? ""
            return !managed.contains(k) || wanted.contains { $0 == (k, e) }
        }
        for (k, e) in wanted where !next.contains(where: { $0["key"]?.string == k && $0["effect"]?.string == e }) {
            var t = JSONObject()
            t["key"] = .string(k)
            t["effect"] = .string(e)
            if e == "NoExecute" { t["timeAdded"] = .string(Timestamp.format(now)) }
            next.append(.object(t))
        }
        guard next != current else { return node }
        return try registry.modify(ResourceRegistry.nodes, namespace: "", name: node.name) { n in
            n.set(["spec", "taints"], next.isEmpty ? nil : .array(next))
        }
    }

    /// NoExecute taints: pods that do not tolerate them go now; those tolerating them for
    /// `tolerationSeconds` go when that time has passed since the taint was added.
    private func evict(_ node: JSON, now: Date) throws {
        let taints = (node["spec"]?["taints"]?.array ?? []).filter { $0["effect"]?.string == "NoExecute" }
        guard !taints.isEmpty else { return }
        try forEachPod(on: node.name) { pod in
            guard pod.deletionTimestamp == nil else { return }
            let tolerations = pod["spec"]?["tolerations"]?.array ?? []
            var due = false
            for taint in taints {
                let key = taint["key"]?.string ?? "", value = taint["value"]?.string ?? ""
                let matching = tolerations.filter { Scheduler.tolerates([$0], key: key, value: value, effect: "NoExecute") }
                if matching.isEmpty { due = true; break }
                let limits = matching.compactMap { $0["tolerationSeconds"]?.int }
                if limits.count < matching.count { continue }  // one tolerates forever
                let added = Timestamp.parse(taint["timeAdded"]?.string ?? "") ?? now
                if let limit = limits.min(), now.timeIntervalSince(added) >= Double(max(limit, 0)) { due = true; break }
            }
            guard due else { return }
            events.record(pod, reason: "TaintManagerEviction", message: "Marking for deletion Pod \(pod.namespace)/\(pod.name)",
                          component: "taint-eviction-controller")
            _ = try? registry.delete(ResourceRegistry.pods, namespace: pod.namespace, name: pod.name, context: .controllers)
        }
    }

    /// Pods bound to a node that does not exist are deleted after a short quarantine.
    private func collectOrphans(_ nodes: Set<String>, now: Date) throws {
        let quarantine = Self.seconds(settings.terminatedPodGracePeriod)
        let needle = Array("\"nodeName\":".utf8)
        var seen = Set<String>()
        var due: [(String, String)] = []
        try registry.store.scan(resource: "pods", namespace: nil) { bytes in
            guard bytes.contains(subsequence: needle), let pod = try? JSON.parse(bytes),
                  let n = pod["spec"]?["nodeName"]?.string, !n.isEmpty, !nodes.contains(n) else { return }
            let key = "\(pod.namespace)/\(pod.name)/\(pod.uid)"
            seen.insert(key)
            let first = orphans.withLock { m in
                if let d = m[key] { return d }
                m[key] = now
                return now
            }
            if now.timeIntervalSince(first) >= quarantine { due.append((pod.namespace, pod.name)) }
        }
        for (ns, name) in due {
            logger.info("pod-gc: deleting \(ns)/\(name), its node does not exist")
            _ = try? registry.delete(ResourceRegistry.pods, namespace: ns, name: name,
                                     options: DeleteOptions(gracePeriodSeconds: 0), context: .controllers)
        }
        orphans.withLock { m in m = m.filter { seen.contains($0.key) } }
    }
}
