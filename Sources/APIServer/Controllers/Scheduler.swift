import Logging
import Synchronization

/// Binds pending pods to nodes, as kube-scheduler's default profile does in its essentials:
/// filters (node ready and schedulable, taints/tolerations, nodeSelector and required node
/// affinity, cpu/memory/pod-count room), least-allocated scoring, a `Scheduled` event on
/// success and `FailedScheduling` with upstream's summary otherwise.
final class Scheduler: Controller {
    let name = "scheduler"
    let watches = ["pods", "nodes"]
    let registry: Registry
    let events: EventRecorder
    let logger: Logger

    struct Usage {
        var node: String
        var cpu: Int64
        var memory: Int64
        var rv: Int64
    }

    private struct State {
        /// Resources held by bound, non-terminal pods (by pod key).
        var usage: [String: Usage] = [:]
        var pending = Set<String>()
        var built = false
    }

    private let state = Mutex(State())

    init(registry: Registry, events: EventRecorder, logger: Logger) {
        self.registry = registry
        self.events = events
        self.logger = logger
    }

    static func podKey(_ pod: JSON) -> String { "\(pod.namespace)/\(pod.name)" }

    static func isPending(_ pod: JSON) -> Bool {
        (pod["spec"]?["nodeName"]?.string ?? "").isEmpty && pod.deletionTimestamp == nil
            && (pod["spec"]?["schedulerName"]?.string ?? "default-scheduler") == "default-scheduler"
            && !["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.string ?? "")
    }

    static func holdsResources(_ pod: JSON) -> Bool {
        !(pod["spec"]?["nodeName"]?.string ?? "").isEmpty && !["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.string ?? "")
    }

    /// Effective requests: the sum over containers, or the largest init container if bigger.
    static func requests(_ pod: JSON) -> (cpu: Int64, memory: Int64) {
        func req(_ c: JSON, _ r: String) -> Int64 { Quantity.milli(c["resources"]?["requests"]?[r]) ?? 0 }
        var cpu: Int64 = 0, mem: Int64 = 0
        for c in pod["spec"]?["containers"]?.array ?? [] {
            cpu += req(c, "cpu")
            mem += req(c, "memory")
        }
        for c in pod["spec"]?["initContainers"]?.array ?? [] {
            cpu = max(cpu, req(c, "cpu"))
            mem = max(mem, req(c, "memory"))
        }
        return (cpu, mem)
    }

    private func account(_ pod: JSON, deleted: Bool, rv: Int64) {
        let key = Self.podKey(pod)
        state.withLock { s in
            if !deleted, Self.holdsResources(pod) {
                let r = Self.requests(pod)
                s.usage[key] = Usage(node: pod["spec"]?["nodeName"]?.string ?? "", cpu: r.cpu, memory: r.memory, rv: rv)
            } else {
                s.usage[key] = nil
            }
        }
    }

    func keys(for e: StoreEvent) async -> [String] {
        let obj = e.object()
        if e.key.resource == "pods" {
            let key = Self.podKey(obj)
            let before = e.previous().map(Self.holdsResources) ?? false
            account(obj, deleted: e.type == .deleted, rv: e.rv)
            let freed = before && (e.type == .deleted || !Self.holdsResources(obj))
            return state.withLock { s -> [String] in
                var out: [String] = []
                if e.type != .deleted, Self.isPending(obj) { out.append(key) } else { s.pending.remove(key) }
                if freed { out += s.pending }
                return out
            }
        }
        // A node appeared or changed what matters for placement: retry every pending pod.
        if e.type == .deleted { return [] }
        if e.type == .modified, let prev = e.previous(), Self.placementView(prev) == Self.placementView(obj) { return [] }
        return state.withLock { Array($0.pending) }
    }

    static func placementView(_ node: JSON) -> JSON {
        .obj(["labels": node["metadata"]?["labels"], "spec": node["spec"], "allocatable": node["status"]?["allocatable"],
              "ready": .string(readyStatus(node))])
    }

    static func readyStatus(_ node: JSON) -> String {
        (node["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == "Ready" }?["status"]?.string ?? "Unknown"
    }

    func resyncKeys() async throws -> [String] {
        let built = state.withLock { $0.built }
        var pending: [String] = []
        var usage: [String: Usage] = [:]
        let rv = registry.store.currentRV
        let needle = Array("\"nodeName\":".utf8)
        // Pages, not one list: a full decode of every pod would hold them all in memory.
        try registry.store.scan(resource: "pods", namespace: nil) { bytes in
            let bound = bytes.contains(subsequence: needle)
            if built && bound { return }
            guard let p = try? JSON.parse(bytes) else { return }
            if Self.isPending(p) { pending.append(Self.podKey(p)) }
            if !built, Self.holdsResources(p) {
                let r = Self.requests(p)
                usage[Self.podKey(p)] = Usage(node: p["spec"]?["nodeName"]?.string ?? "", cpu: r.cpu, memory: r.memory, rv: rv)
            }
        }
        if !built {
            state.withLock { s in
                for (k, u) in usage where (s.usage[k]?.rv ?? 0) < u.rv { s.usage[k] = u }
                s.built = true
            }
        }
        return pending
    }

    // MARK: scheduling one pod

    struct NodeFit {
        let node: JSON
        let score: Double
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        guard let pod = try registry.getIfPresent(ResourceRegistry.pods, namespace: parts[0], name: parts[1]), Self.isPending(pod) else {
            _ = state.withLock { $0.pending.remove(key) }
            return
        }
        let nodes = try registry.list(ResourceRegistry.nodes, namespace: nil)
        let req = Self.requests(pod)
        let used = state.withLock { s in
            var m: [String: (cpu: Int64, memory: Int64, pods: Int)] = [:]
            for (_, u) in s.usage {
                var cur = m[u.node] ?? (0, 0, 0)
                cur.cpu += u.cpu
                cur.memory += u.memory
                cur.pods += 1
                m[u.node] = cur
            }
            return m
        }
        var reasons: [String: Int] = [:]
        var fits: [NodeFit] = []
        for node in nodes {
            if let why = Self.filter(pod, node: node, requests: req, used: used[node.name] ?? (0, 0, 0)) {
                reasons[why, default: 0] += 1
            } else {
                fits.append(NodeFit(node: node, score: Self.score(node, requests: req, used: used[node.name] ?? (0, 0, 0))))
            }
        }
        guard let best = fits.max(by: { $0.score < $1.score }) else {
            _ = state.withLock { $0.pending.insert(key) }
            let message = Self.failureMessage(total: nodes.count, reasons: reasons)
            try markUnschedulable(pod, message: message)
            events.record(pod, type: "Warning", reason: "FailedScheduling", message: message, component: "default-scheduler")
            return
        }
        do {
            try registry.bind(namespace: pod.namespace, pod: pod.name, node: best.node.name, uid: pod.uid, context: .controllers)
        } catch let e as APIError where e.code == 409 || e.code == 404 {
            _ = state.withLock { $0.pending.remove(key) }
            return
        }
        state.withLock { s in
            s.pending.remove(key)
            s.usage[key] = Usage(node: best.node.name, cpu: req.cpu, memory: req.memory, rv: registry.store.currentRV)
        }
        events.record(pod, reason: "Scheduled", message: "Successfully assigned \(pod.namespace)/\(pod.name) to \(best.node.name)",
                      component: "default-scheduler")
    }

    private func markUnschedulable(_ pod: JSON, message: String) throws {
        let cur = (pod["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == "PodScheduled" }
        if cur?["status"]?.string == "False", cur?["message"]?.string == message { return }
        let now = Timestamp.now()
        do {
            try registry.modify(ResourceRegistry.pods, namespace: pod.namespace, name: pod.name, subresource: "status") { p in
                var conds = p["status"]?["conditions"]?.array ?? []
                conds.removeAll { $0["type"]?.string == "PodScheduled" }
                conds.append(.obj(["type": "PodScheduled", "status": "False", "lastProbeTime": nil, "lastTransitionTime": .string(now),
                                   "reason": "Unschedulable", "message": .string(message)]))
                p.set(["status", "conditions"], .array(conds))
            }
        } catch let e as APIError where e.code == 404 {
            return
        }
    }

    static func failureMessage(total: Int, reasons: [String: Int]) -> String {
        if total == 0 { return "no nodes available to schedule pods" }
        let parts = reasons.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
        return "0/\(total) nodes are available: \(parts). preemption: 0/\(total) nodes are available: \(total) Preemption is not helpful for scheduling."
    }

    // MARK: filters and score

    /// nil when the pod fits; otherwise upstream's reason text for the summary.
    static func filter(_ pod: JSON, node: JSON, requests: (cpu: Int64, memory: Int64),
                       used: (cpu: Int64, memory: Int64, pods: Int)) -> String?
    {
        let spec = pod["spec"] ?? .null
        let tolerations = spec["tolerations"]?.array ?? []
        if node["spec"]?["unschedulable"]?.bool == true,
           !tolerates(tolerations, key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule")
        {
            return "node(s) were unschedulable"
        }
        if let (k, v) = untoleratedTaint(node, tolerations: tolerations) { return "node(s) had untolerated taint {\(k): \(v)}" }
        let ready = readyStatus(node)
        if ready != "True" {
            let key = ready == "False" ? "node.kubernetes.io/not-ready" : "node.kubernetes.io/unreachable"
            if !tolerates(tolerations, key: key, value: "", effect: "NoSchedule") { return "node(s) had untolerated taint {\(key): }" }
        }
        if !matchesNodeSelector(pod, node) { return "node(s) didn't match Pod's node affinity/selector" }
        let alloc = node["status"]?["allocatable"] ?? node["status"]?["capacity"] ?? .null
        if let maxPods = Quantity.milli(alloc["pods"]).map({ Int($0 / 1000) }), used.pods + 1 > maxPods { return "Too many pods" }
        if requests.cpu > 0, used.cpu + requests.cpu > (Quantity.milli(alloc["cpu"]) ?? 0) { return "Insufficient cpu" }
        if requests.memory > 0, used.memory + requests.memory > (Quantity.milli(alloc["memory"]) ?? 0) { return "Insufficient memory" }
        return nil
    }

    static func score(_ node: JSON, requests: (cpu: Int64, memory: Int64), used: (cpu: Int64, memory: Int64, pods: Int)) -> Double {
        let alloc = node["status"]?["allocatable"] ?? node["status"]?["capacity"] ?? .null
        func free(_ total: Int64?, _ u: Int64, _ r: Int64) -> Double {
            guard let total, total > 0 else { return 0 }
            return Double(total - u - r) / Double(total)
        }
        return free(Quantity.milli(alloc["cpu"]), used.cpu, requests.cpu) + free(Quantity.milli(alloc["memory"]), used.memory, requests.memory)
            - Double(used.pods) * 1e-6
    }

    static func tolerates(_ tolerations: [JSON], key: String, value: String, effect: String) -> Bool {
        tolerations.contains { t in
            let te = t["effect"]?.string ?? ""
            guard te.isEmpty || te == effect else { return false }
            let tk = t["key"]?.string ?? ""
            let op = t["operator"]?.string ?? "Equal"
            if tk.isEmpty { return op == "Exists" }
            guard tk == key else { return false }
            return op == "Exists" || (t["value"]?.string ?? "") == value
        }
    }

    static func untoleratedTaint(_ node: JSON, tolerations: [JSON]) -> (String, String)? {
        for taint in node["spec"]?["taints"]?.array ?? [] {
            let effect = taint["effect"]?.string ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            let key = taint["key"]?.string ?? "", value = taint["value"]?.string ?? ""
            if !tolerates(tolerations, key: key, value: value, effect: effect) { return (key, value) }
        }
        return nil
    }

    static func matchesNodeSelector(_ pod: JSON, _ node: JSON) -> Bool {
        let labels = node.labels
        for (k, v) in pod["spec"]?["nodeSelector"]?.object ?? JSONObject() where labels[k] != v.string {
            return false
        }
        guard let terms = pod["spec"]?["affinity"]?["nodeAffinity"]?["requiredDuringSchedulingIgnoredDuringExecution"]?["nodeSelectorTerms"]?.array,
              !terms.isEmpty
        else { return true }
        return terms.contains { term in
            let exprs = term["matchExpressions"]?.array ?? [], fields = term["matchFields"]?.array ?? []
            if exprs.isEmpty && fields.isEmpty { return false }
            return exprs.allSatisfy { matches($0, labels[$0["key"]?.string ?? ""]) }
                && fields.allSatisfy { $0["key"]?.string == "metadata.name" && matches($0, node.name) }
        }
    }

    static func matches(_ req: JSON, _ value: String?) -> Bool {
        let values = (req["values"]?.array ?? []).compactMap(\.string)
        switch req["operator"]?.string ?? "" {
        case "In": return value.map(values.contains) ?? false
        case "NotIn": return !(value.map(values.contains) ?? false)
        case "Exists": return value != nil
        case "DoesNotExist": return value == nil
        case "Gt": if let v = value.flatMap({ Int64($0) }), let b = values.first.flatMap({ Int64($0) }) { return v > b } else { return false }
        case "Lt": if let v = value.flatMap({ Int64($0) }), let b = values.first.flatMap({ Int64($0) }) { return v < b } else { return false }
        default: return false
        }
    }
}
