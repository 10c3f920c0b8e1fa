import Logging

/// Publishes the pods behind each selector Service as `discovery.k8s.io/v1` EndpointSlices
/// (ready/serving/terminating conditions, target ports resolved per pod, at most 100
/// endpoints per slice) and as the legacy core/v1 Endpoints object.
struct EndpointSliceController: Controller {
    let name = "endpointslice-controller"
    let watches = ["services", "pods"]
    let registry: Registry
    let logger: Logger

    static let managedBy = "endpointslice-controller.k8s.io"
    static let maxEndpoints = 100

    func keys(for e: StoreEvent) async -> [String] {
        let obj = e.object()
        if e.key.resource == "services" { return ["\(obj.namespace)/\(obj.name)"] }
        // A pod change matters to the Services selecting it before or after the change.
        let label = [obj.labels, e.previous()?.labels ?? [:]]
        guard let services = try? registry.list(ResourceRegistry.services, namespace: obj.namespace) else { return [] }
        return services.compactMap { svc in
            guard let sel = svc["spec"]?["selector"]?.stringMap, !sel.isEmpty else { return nil }
            let hit = label.contains { l in sel.allSatisfy { l[$0.key] == $0.value } }
            return hit ? "\(svc.namespace)/\(svc.name)" : nil
        }
    }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.services, namespace: nil).map { "\($0.namespace)/\($0.name)" }
    }

    struct Endpoint {
        let pod: JSON
        let ip: String
        let ready: Bool
        let serving: Bool
        let terminating: Bool
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous on purpose: the work does no awaiting, and keeping it out of an async
    /// function avoids a release-mode compiler crash in coroutine splitting.
    func reconcile(_ key: String) throws {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        let (ns, name) = (parts[0], parts[1])
        let svc = try registry.getIfPresent(ResourceRegistry.services, namespace: ns, name: name)
        let existing = try registry.list(ResourceRegistry.endpointslices, namespace: ns,
                                         labels: LabelSelector(requirements: [
                                             .init(key: "kubernetes.io/service-name", op: .eq, values: [name]),
                                             .init(key: "endpointslice.kubernetes.io/managed-by", op: .eq, values: [Self.managedBy]),
                                         ]))
        guard let svc, svc.deletionTimestamp == nil, let selector = svc["spec"]?["selector"]?.stringMap, !selector.isEmpty,
              svc["spec"]?["type"]?.string != "ExternalName"
        else {
            for s in existing { _ = try? registry.delete(ResourceRegistry.endpointslices, namespace: ns, name: s.name, context: .controllers) }
            return
        }
        let needles = selector.map { Array("\(JSON.string($0.key).text):\(JSON.string($0.value).text)".utf8) }
        let pods = try registry.list(ResourceRegistry.pods, namespace: ns, labels: LabelSelector(requirements: selector.map {
            .init(key: $0.key, op: .eq, values: [$0.value])
        }), prefilter: { b in needles.allSatisfy { b.contains(subsequence: $0) } })
        let publishNotReady = svc["spec"]?["publishNotReadyAddresses"]?.bool == true
        var byPorts: [JSON: [Endpoint]] = [:]
        var portOrder: [JSON] = []
        for pod in pods.sorted(by: { $0.name < $1.name }) {
            let ip = pod["status"]?["podIP"]?.string ?? ""
            let phase = pod["status"]?["phase"]?.string ?? ""
            guard !ip.isEmpty, phase != "Succeeded", phase != "Failed" else { continue }
            let terminating = pod.deletionTimestamp != nil
            let podReady = ReplicaSetController.isReady(pod)
            let ep = Endpoint(pod: pod, ip: ip, ready: (podReady && !terminating) || publishNotReady, serving: podReady || publishNotReady,
                              terminating: terminating)
            let ports = Self.ports(svc, pod: pod)
            if byPorts[ports] == nil { portOrder.append(ports) }
            byPorts[ports, default: []].append(ep)
        }
        var desired: [(ports: JSON, endpoints: [Endpoint])] = []
        for p in portOrder {
            let eps = byPorts[p] ?? []
            var i = 0
            while i < eps.count {
                desired.append((p, Array(eps[i..<min(i + Self.maxEndpoints, eps.count)])))
                i += Self.maxEndpoints
            }
        }
        if desired.isEmpty { desired.append((Self.ports(svc, pod: nil), [])) }
        var reuse = existing.sorted { $0.name < $1.name }
        for d in desired {
            let body = slice(svc, ports: d.ports, endpoints: d.endpoints)
            if !reuse.isEmpty {
                let cur = reuse.removeFirst()
                try registry.modify(ResourceRegistry.endpointslices, namespace: ns, name: cur.name) { o in
                    o["endpoints"] = body["endpoints"]
                    o["ports"] = body["ports"]
                    o["addressType"] = body["addressType"]
                    o.setMeta("labels", body["metadata"]?["labels"])
                    o.setMeta("ownerReferences", body["metadata"]?["ownerReferences"])
                }
            } else {
                _ = try registry.create(ResourceRegistry.endpointslices, namespace: ns, object: body, context: .controllers)
            }
        }
        for s in reuse { _ = try? registry.delete(ResourceRegistry.endpointslices, namespace: ns, name: s.name, context: .controllers) }
        try syncEndpoints(svc, desired.flatMap { d in d.endpoints.map { (d.ports, $0) } })
    }

    /// The slice ports for a pod: each service port with its targetPort resolved (a named
    /// targetPort looks up the pod's container port of that name).
    static func ports(_ svc: JSON, pod: JSON?) -> JSON {
        var out: [JSON] = []
        for p in svc["spec"]?["ports"]?.array ?? [] {
            var port: Int64?
            if let n = p["targetPort"]?.int {
                port = n
            } else if let named = p["targetPort"]?.string, let pod {
                for c in pod["spec"]?["containers"]?.array ?? [] {
                    for cp in c["ports"]?.array ?? [] where cp["name"]?.string == named { port = cp["containerPort"]?.int }
                }
            } else {
                port = p["port"]?.int
            }
            var o = JSONObject()
            o["name"] = .string(p["name"]?.string ?? "")
            o["protocol"] = .string(p["protocol"]?.string ?? "TCP")
            if let port { o["port"] = .int(port) }
            if let ap = p["appProtocol"] { o["appProtocol"] = ap }
            out.append(.object(o))
        }
        return .array(out)
    }

    func slice(_ svc: JSON, ports: JSON, endpoints: [Endpoint]) -> JSON {
        let eps: [JSON] = endpoints.map { e in
            var o = JSONObject()
            o["addresses"] = [.string(e.ip)]
            o["conditions"] = .obj(["ready": .bool(e.ready), "serving": .bool(e.serving), "terminating": .bool(e.terminating)])
            if let n = e.pod["spec"]?["nodeName"]?.string, !n.isEmpty { o["nodeName"] = .string(n) }
            o["targetRef"] = .obj(["kind": "Pod", "namespace": .string(e.pod.namespace), "name": .string(e.pod.name), "uid": .string(e.pod.uid)])
            return .object(o)
        }
        var labels = svc["metadata"]?["labels"]?.object ?? JSONObject()
        labels["kubernetes.io/service-name"] = .string(svc.name)
        labels["endpointslice.kubernetes.io/managed-by"] = .string(Self.managedBy)
        return .obj([
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": .obj([
                "generateName": .string(svc.name + "-"), "namespace": .string(svc.namespace), "labels": .object(labels),
                "ownerReferences": [.obj(["apiVersion": "v1", "kind": "Service", "name": .string(svc.name), "uid": .string(svc.uid),
                                          "controller": true, "blockOwnerDeletion": true])],
            ]),
            "addressType": "IPv4", "endpoints": .array(eps), "ports": ports,
        ])
    }

    /// The core/v1 Endpoints of the Service (what `kubectl describe service` lists).
    private func syncEndpoints(_ svc: JSON, _ eps: [(JSON, Endpoint)]) throws {
        var subsets: [JSON] = []
        var groups: [JSON: (ready: [JSON], notReady: [JSON])] = [:]
        var order: [JSON] = []
        for (ports, e) in eps where !e.terminating {
            let addr = JSON.obj(["ip": .string(e.ip), "nodeName": e.pod["spec"]?["nodeName"],
                                 "targetRef": .obj(["kind": "Pod", "namespace": .string(e.pod.namespace), "name": .string(e.pod.name),
                                                    "uid": .string(e.pod.uid)])])
            if groups[ports] == nil { order.append(ports) }
            if e.ready { groups[ports, default: ([], [])].ready.append(addr) } else { groups[ports, default: ([], [])].notReady.append(addr) }
        }
        for p in order {
            guard let g = groups[p] else { continue }
            var s = JSONObject()
            if !g.ready.isEmpty { s["addresses"] = .array(g.ready) }
            if !g.notReady.isEmpty { s["notReadyAddresses"] = .array(g.notReady) }
            s["ports"] = .array((p.array ?? []).map { port in
                var o = port.object ?? JSONObject()
                if o["name"]?.string == "" { o["name"] = nil }
                return .object(o)
            })
            subsets.append(.object(s))
        }
        var labels = svc["metadata"]?["labels"]?.object ?? JSONObject()
        labels["endpointslice.kubernetes.io/skip-mirror"] = "true"
        let body = JSON.obj(["metadata": .obj(["name": .string(svc.name), "namespace": .string(svc.namespace), "labels": .object(labels)]),
                             "subsets": subsets.isEmpty ? nil : .array(subsets)])
        if let cur = try registry.getIfPresent(ResourceRegistry.endpoints, namespace: svc.namespace, name: svc.name) {
            if cur["subsets"] == body["subsets"], cur["metadata"]?["labels"] == body["metadata"]?["labels"] { return }
            try registry.modify(ResourceRegistry.endpoints, namespace: svc.namespace, name: svc.name) { o in
                o["subsets"] = body["subsets"]
                o.setMeta("labels", body["metadata"]?["labels"])
            }
        } else {
            _ = try registry.create(ResourceRegistry.endpoints, namespace: svc.namespace, object: body, context: .controllers)
        }
    }
}
