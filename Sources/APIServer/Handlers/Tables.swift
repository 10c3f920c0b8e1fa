import Foundation

/// Server-side printing (`meta.k8s.io/v1` `Table`): the columns `kubectl get` shows for each
/// kind, computed as upstream's printers compute them.
enum Tables {
    struct Column {
        let name: String
        let type: String
        let format: String
        let priority: Int
        let description: String

        init(_ name: String, _ type: String = "string", format: String = "", priority: Int = 0, _ description: String = "") {
            self.name = name
            self.type = type
            self.format = format
            self.priority = priority
            self.description = description
        }

        var json: JSON {
            .obj(["name": .string(name), "type": .string(type), "format": .string(format),
                  "description": .string(description), "priority": .int(Int64(priority))])
        }
    }

    static let nameColumn = Column("Name", format: "name", "Name must be unique within a namespace.")
    static let ageColumn = Column("Age", "CreationTimestamp is the time the object was created.")

    static func columns(_ r: ResourceType) -> [Column] {
        switch r.storageKey {
        case "pods":
            return [nameColumn, Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                    Column("Status", "The aggregate status of the containers in this pod."),
                    Column("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                    ageColumn, Column("IP", priority: 1, "IP address allocated to the pod."),
                    Column("Node", priority: 1, "Name of the node the pod is bound to."),
                    Column("Nominated Node", priority: 1, "Node the scheduler nominated for the pod."),
                    Column("Readiness Gates", priority: 1, "Pod readiness gates.")]
        case "deployments.apps":
            return [nameColumn, Column("Ready", "Number of ready pods out of the desired count."),
                    Column("Up-to-date", "integer", "Pods running the latest template."),
                    Column("Available", "integer", "Pods available to users."), ageColumn,
                    Column("Containers", priority: 1, "Container names in the pod template."),
                    Column("Images", priority: 1, "Container images in the pod template."),
                    Column("Selector", priority: 1, "Label selector of the pods.")]
        case "replicasets.apps":
            return [nameColumn, Column("Desired", "integer", "Desired number of pods."),
                    Column("Current", "integer", "Number of pods that exist."),
                    Column("Ready", "integer", "Number of ready pods."), ageColumn,
                    Column("Containers", priority: 1, "Container names in the pod template."),
                    Column("Images", priority: 1, "Container images in the pod template."),
                    Column("Selector", priority: 1, "Label selector of the pods.")]
        case "services":
            return [nameColumn, Column("Type", "How the service is exposed."), Column("Cluster-IP", "The virtual IP of the service."),
                    Column("External-IP", "Addresses the service is reachable at from outside."),
                    Column("Port(s)", "The ports the service exposes."), ageColumn,
                    Column("Selector", priority: 1, "Pods the service routes to.")]
        case "nodes":
            return [nameColumn, Column("Status", "The readiness and schedulability of the node."),
                    Column("Roles", "The roles of the node."), ageColumn, Column("Version", "Kubelet version."),
                    Column("Internal-IP", priority: 1, "Internal address of the node."),
                    Column("External-IP", priority: 1, "External address of the node."),
                    Column("OS-Image", priority: 1, "Operating system image."),
                    Column("Kernel-Version", priority: 1, "Kernel version."),
                    Column("Container-Runtime", priority: 1, "Container runtime and version.")]
        case "namespaces":
            return [nameColumn, Column("Status", "The phase of the namespace."), ageColumn]
        case "configmaps":
            return [nameColumn, Column("Data", "integer", "Number of keys."), ageColumn]
        case "secrets":
            return [nameColumn, Column("Type", "The type of the secret."), Column("Data", "integer", "Number of keys."), ageColumn]
        case "serviceaccounts":
            return [nameColumn, Column("Secrets", "integer", "Number of referenced secrets."), ageColumn]
        case "events":
            return [Column("Last Seen", "When the event was last observed."), Column("Type", "Normal or Warning."),
                    Column("Reason", "Why the event happened."), Column("Object", "The object the event is about."),
                    Column("Subobject", priority: 1, "The part of the object."), Column("Source", priority: 1, "Who reported it."),
                    Column("Message", "What happened."), Column("First Seen", priority: 1, "When the event was first observed."),
                    Column("Count", priority: 1, "How many times it happened."), Column("Name", format: "name", priority: 1, "Event name.")]
        case "endpoints":
            return [nameColumn, Column("Endpoints", "Addresses and ports."), ageColumn]
        case "leases.coordination.k8s.io":
            return [nameColumn, Column("Holder", "The holder of the lease."), ageColumn]
        case "endpointslices.discovery.k8s.io":
            return [nameColumn, Column("AddressType", "Type of the addresses."), Column("Ports", "Ports of the slice."),
                    Column("Endpoints", "Addresses of the slice."), ageColumn]
        case "certificatesigningrequests.certificates.k8s.io":
            return [nameColumn, ageColumn, Column("SignerName", "Who is asked to sign."), Column("Requestor", "Who asked."),
                    Column("RequestedDuration", "The validity asked for."), Column("Condition", "Approved, Denied, Failed, Issued or Pending.")]
        default:
            return [nameColumn, Column("Created At", "date", "The time the object was created.")]
        }
    }

    static func none(_ s: String?) -> JSON { .string((s ?? "").isEmpty ? "<none>" : s ?? "") }

    static func cells(_ r: ResourceType, _ o: JSON, now: Date) -> [JSON] {
        let age = JSON.string(Timestamp.humanAge(since: o["metadata"]?["creationTimestamp"]?.string, now: now))
        let spec = o["spec"] ?? .null, status = o["status"] ?? .null
        switch r.storageKey {
        case "pods": return podCells(o, now: now)
        case "deployments.apps":
            let want = spec["replicas"]?.int ?? 0
            let (names, images) = containerColumns(spec["template"]?["spec"])
            return [.string(o.name), .string("\(status["readyReplicas"]?.int ?? 0)/\(want)"), .int(status["updatedReplicas"]?.int ?? 0),
                    .int(status["availableReplicas"]?.int ?? 0), age, .string(names), .string(images), .string(selectorText(spec["selector"]))]
        case "replicasets.apps":
            let (names, images) = containerColumns(spec["template"]?["spec"])
            return [.string(o.name), .int(spec["replicas"]?.int ?? 0), .int(status["replicas"]?.int ?? 0),
                    .int(status["readyReplicas"]?.int ?? 0), age, .string(names), .string(images), .string(selectorText(spec["selector"]))]
        case "services": return serviceCells(o, age: age)
        case "nodes": return nodeCells(o, age: age)
        case "namespaces": return [.string(o.name), .string(status["phase"]?.string ?? ""), age]
        case "configmaps":
            return [.string(o.name), .int(Int64((o["data"]?.object?.count ?? 0) + (o["binaryData"]?.object?.count ?? 0))), age]
        case "secrets":
            return [.string(o.name), .string(o["type"]?.string ?? ""), .int(Int64(o["data"]?.object?.count ?? 0)), age]
        case "serviceaccounts": return [.string(o.name), .int(Int64(o["secrets"]?.array?.count ?? 0)), age]
        case "events": return eventCells(o, now: now)
        case "endpoints":
            var eps: [String] = []
            for s in o["subsets"]?.array ?? [] {
                let ports = (s["ports"]?.array ?? []).compactMap { $0["port"]?.int }
                for a in s["addresses"]?.array ?? [] {
                    let ip = a["ip"]?.string ?? ""
                    if ports.isEmpty { eps.append(ip) } else { for p in ports { eps.append("\(ip):\(p)") } }
                }
            }
            return [.string(o.name), none(truncatedList(eps)), age]
        case "leases.coordination.k8s.io": return [.string(o.name), .string(spec["holderIdentity"]?.string ?? ""), age]
        case "endpointslices.discovery.k8s.io":
            let ports = (o["ports"]?.array ?? []).map { $0["port"]?.int.map(String.init) ?? "<unset>" }
            let addrs = (o["endpoints"]?.array ?? []).flatMap { $0["addresses"]?.array?.compactMap(\.string) ?? [] }
            return [.string(o.name), .string(o["addressType"]?.string ?? ""), .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")),
                    .string(addrs.isEmpty ? "<unset>" : truncatedList(addrs)), age]
        case "certificatesigningrequests.certificates.k8s.io":
            var conditions = (o["status"]?["conditions"]?.array ?? []).compactMap { $0["type"]?.string }
            if o["status"]?["certificate"] != nil { conditions.append("Issued") }
            let duration = spec["expirationSeconds"]?.int.map { "\($0 / 60)m" } ?? "<none>"
            return [.string(o.name), age, .string(spec["signerName"]?.string ?? ""), .string(spec["username"]?.string ?? ""),
                    .string(duration), .string(conditions.isEmpty ? "Pending" : conditions.joined(separator: ","))]
        default:
            return [.string(o.name), .string(o["metadata"]?["creationTimestamp"]?.string ?? "")]
        }
    }

    static func truncatedList(_ items: [String], max: Int = 3) -> String {
        if items.count <= max { return items.joined(separator: ",") }
        return items.prefix(max).joined(separator: ",") + " + \(items.count - max) more..."
    }

    static func containerColumns(_ podSpec: JSON?) -> (String, String) {
        let cs = podSpec?["containers"]?.array ?? []
        return (cs.compactMap { $0["name"]?.string }.joined(separator: ","), cs.compactMap { $0["image"]?.string }.joined(separator: ","))
    }

    static func selectorText(_ sel: JSON?) -> String {
        guard let sel else { return "<none>" }
        var parts: [String] = []
        for (k, v) in sel["matchLabels"]?.object ?? JSONObject() { parts.append("\(k)=\(v.string ?? "")") }
        for e in sel["matchExpressions"]?.array ?? [] {
            let k = e["key"]?.string ?? "", vals = (e["values"]?.array ?? []).compactMap(\.string).joined(separator: ",")
            switch e["operator"]?.string ?? "" {
            case "In": parts.append("\(k) in (\(vals))")
            case "NotIn": parts.append("\(k) notin (\(vals))")
            case "Exists": parts.append(k)
            case "DoesNotExist": parts.append("!\(k)")
            default: break
            }
        }
        return parts.isEmpty ? "<none>" : parts.joined(separator: ",")
    }

    /// The STATUS column of `kubectl get pods` (upstream's printPod, main cases).
    static func podCells(_ o: JSON, now: Date) -> [JSON] {
        let spec = o["spec"] ?? .null, status = o["status"] ?? .null
        var reason = status["phase"]?.string ?? ""
        if let r = status["reason"]?.string, !r.isEmpty { reason = r }
        let statuses = status["containerStatuses"]?.array ?? []
        var restarts: Int64 = 0, ready = 0
        var lastRestart: Date?
        var initializing = false
        for (i, c) in (status["initContainerStatuses"]?.array ?? []).enumerated() {
            restarts += c["restartCount"]?.int ?? 0
            if let t = c["state"]?["terminated"], t["exitCode"]?.int == 0 { continue }
            if let t = c["state"]?["terminated"] {
                reason = "Init:" + (t["reason"]?.string ?? "ExitCode:\(t["exitCode"]?.int ?? 0)")
                initializing = true
            } else if let w = c["state"]?["waiting"]?["reason"]?.string, !w.isEmpty, w != "PodInitializing" {
                reason = "Init:" + w
                initializing = true
            } else if c["state"]?["running"] == nil || c["started"]?.bool != true {
                reason = "Init:\(i)/\(spec["initContainers"]?.array?.count ?? 0)"
                initializing = true
            }
            break
        }
        if !initializing {
            var hasRunning = false
            for c in statuses.reversed() {
                restarts += c["restartCount"]?.int ?? 0
                if let f = c["lastState"]?["terminated"]?["finishedAt"]?.string, let d = Timestamp.parse(f), lastRestart.map({ d > $0 }) ?? true {
                    lastRestart = d
                }
                if let w = c["state"]?["waiting"]?["reason"]?.string, !w.isEmpty {
                    reason = w
                } else if let t = c["state"]?["terminated"] {
                    if let r = t["reason"]?.string, !r.isEmpty { reason = r } else if let sig = t["signal"]?.int, sig != 0 {
                        reason = "Signal:\(sig)"
                    } else { reason = "ExitCode:\(t["exitCode"]?.int ?? 0)" }
                } else if c["ready"]?.bool == true, c["state"]?["running"] != nil {
                    hasRunning = true
                    ready += 1
                }
            }
            if reason == "Completed", hasRunning {
                let podReady = (status["conditions"]?.array ?? []).contains { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }
                reason = podReady ? "Running" : "NotReady"
            }
        }
        if o.deletionTimestamp != nil { reason = status["reason"]?.string == "NodeLost" ? "Unknown" : "Terminating" }
        let total = spec["containers"]?.array?.count ?? 0
        var restartText = String(restarts)
        if let lastRestart, restarts > 0 { restartText += " (\(Timestamp.humanDuration(now.timeIntervalSince(lastRestart))) ago)" }
        let gates = (spec["readinessGates"]?.array ?? []).count
        return [.string(o.name), .string("\(ready)/\(total)"), .string(reason), .string(restartText),
                .string(Timestamp.humanAge(since: o["metadata"]?["creationTimestamp"]?.string, now: now)),
                none(status["podIP"]?.string), none(spec["nodeName"]?.string), none(status["nominatedNodeName"]?.string),
                .string(gates == 0 ? "<none>" : "0/\(gates)")]
    }

    static func serviceCells(_ o: JSON, age: JSON) -> [JSON] {
        let spec = o["spec"] ?? .null
        let type = spec["type"]?.string ?? "ClusterIP"
        var external = "<none>"
        switch type {
        case "LoadBalancer":
            let ing = (o["status"]?["loadBalancer"]?["ingress"]?.array ?? []).compactMap { $0["ip"]?.string ?? $0["hostname"]?.string }
            let ext = (spec["externalIPs"]?.array ?? []).compactMap(\.string)
            external = (ing + ext).isEmpty ? "<pending>" : (ing + ext).joined(separator: ",")
        case "ExternalName": external = spec["externalName"]?.string ?? "<none>"
        default:
            let ext = (spec["externalIPs"]?.array ?? []).compactMap(\.string)
            if !ext.isEmpty { external = ext.joined(separator: ",") }
        }
        let ports = (spec["ports"]?.array ?? []).map { p -> String in
            let port = p["port"]?.int ?? 0, proto = p["protocol"]?.string ?? "TCP"
            if let np = p["nodePort"]?.int, np != 0 { return "\(port):\(np)/\(proto)" }
            return "\(port)/\(proto)"
        }
        let sel = (spec["selector"]?.object ?? JSONObject()).map { "\($0.0)=\($0.1.string ?? "")" }.sorted()
        return [.string(o.name), .string(type), none(spec["clusterIP"]?.string), .string(external),
                none(ports.joined(separator: ",")), age, none(sel.joined(separator: ","))]
    }

    static func nodeCells(_ o: JSON, age: JSON) -> [JSON] {
        let status = o["status"] ?? .null
        var state = "Unknown"
        if let ready = (status["conditions"]?.array ?? []).first(where: { $0["type"]?.string == "Ready" }) {
            // As kubectl's printer: any status but True (False or Unknown) reads NotReady.
            state = ready["status"]?.string == "True" ? "Ready" : "NotReady"
        }
        if o["spec"]?["unschedulable"]?.bool == true { state += ",SchedulingDisabled" }
        var roles: [String] = []
        for (k, _) in o["metadata"]?["labels"]?.object ?? JSONObject() {
            if k.hasPrefix("node-role.kubernetes.io/") { roles.append(String(k.dropFirst("node-role.kubernetes.io/".count))) }
            if k == "kubernetes.io/role", let v = o.labels[k] { roles.append(v) }
        }
        let addrs = status["addresses"]?.array ?? []
        func addr(_ t: String) -> String? { addrs.first { $0["type"]?.string == t }?["address"]?.string }
        let info = status["nodeInfo"] ?? .null
        return [.string(o.name), .string(state), none(roles.sorted().joined(separator: ",")), age,
                .string(info["kubeletVersion"]?.string ?? ""), none(addr("InternalIP")), none(addr("ExternalIP")),
                .string(info["osImage"]?.string ?? "<unknown>"), .string(info["kernelVersion"]?.string ?? "<unknown>"),
                .string(info["containerRuntimeVersion"]?.string ?? "<unknown>")]
    }

    static func eventCells(_ o: JSON, now: Date) -> [JSON] {
        let last = o["lastTimestamp"]?.string ?? o["eventTime"]?.string ?? o["metadata"]?["creationTimestamp"]?.string
        let first = o["firstTimestamp"]?.string ?? o["eventTime"]?.string ?? o["metadata"]?["creationTimestamp"]?.string
        let inv = o["involvedObject"] ?? .null
        let object = "\((inv["kind"]?.string ?? "").lowercased())/\(inv["name"]?.string ?? "")"
        var source = o["source"]?["component"]?.string ?? o["reportingComponent"]?.string ?? ""
        if let h = o["source"]?["host"]?.string, !h.isEmpty { source += ", \(h)" }
        return [.string(Timestamp.humanAge(since: last, now: now)), .string(o["type"]?.string ?? ""), .string(o["reason"]?.string ?? ""),
                .string(object), .string(inv["fieldPath"]?.string ?? ""), .string(source), .string(o["message"]?.string ?? ""),
                .string(Timestamp.humanAge(since: first, now: now)), .int(o["count"]?.int ?? 1), .string(o.name)]
    }

    // MARK: assembly

    /// `includeObject`: None, Metadata (default) or Object.
    static func row(_ r: ResourceType, _ o: JSON, includeObject: String, now: Date) -> JSON {
        var row = JSONObject()
        row["cells"] = .array(cells(r, o, now: now))
        switch includeObject {
        case "None": break
        case "Object": row["object"] = o
        default:
            row["object"] = .obj(["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] ?? .obj([:])])
        }
        return .object(row)
    }

    static func table(_ r: ResourceType, rows: [JSON], resourceVersion: String, continueToken: String?, withColumns: Bool = true) -> JSON {
        var meta = JSONObject()
        meta["resourceVersion"] = .string(resourceVersion)
        if let continueToken { meta["continue"] = .string(continueToken) }
        var t = JSONObject()
        t["kind"] = "Table"
        t["apiVersion"] = "meta.k8s.io/v1"
        t["metadata"] = .object(meta)
        t["columnDefinitions"] = .array(withColumns ? columns(r).map(\.json) : [])
        t["rows"] = .array(rows)
        return .object(t)
    }
}
