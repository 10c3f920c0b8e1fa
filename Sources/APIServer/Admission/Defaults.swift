import Foundation
import KubeAPI

/// Upstream's defaulting (the values `kubectl get -o yaml` shows that nobody wrote).
enum Defaults {
    static func setIfAbsent(_ o: inout JSON, _ key: String, _ v: JSON) {
        if o[key] == nil || o[key] == .null { o[key] = v }
    }

    static func podSpec(_ spec: inout JSON) {
        guard case .object = spec else { return }
        setIfAbsent(&spec, "restartPolicy", "Always")
        setIfAbsent(&spec, "terminationGracePeriodSeconds", 30)
        setIfAbsent(&spec, "dnsPolicy", "ClusterFirst")
        setIfAbsent(&spec, "securityContext", .object(JSONObject()))
        setIfAbsent(&spec, "schedulerName", "default-scheduler")
        for list in ["containers", "initContainers"] {
            if case .array(var cs)? = spec[list] {
                for i in cs.indices { container(&cs[i]) }
                spec[list] = .array(cs)
            }
        }
        if case .array(var vs)? = spec["volumes"] {
            for i in vs.indices { volume(&vs[i]) }
            spec["volumes"] = .array(vs)
        }
    }

    static func container(_ c: inout JSON) {
        setIfAbsent(&c, "terminationMessagePath", "/dev/termination-log")
        setIfAbsent(&c, "terminationMessagePolicy", "File")
        if c["imagePullPolicy"] == nil {
            let image = c["image"]?.string ?? ""
            let afterSlash = image.split(separator: "/").last.map(String.init) ?? image
            let noDigest = !image.contains("@")
            let tag = afterSlash.contains(":") ? String(afterSlash.split(separator: ":").last ?? "") : ""
            c["imagePullPolicy"] = .string(noDigest && (tag.isEmpty || tag == "latest") ? "Always" : "IfNotPresent")
        }
        setIfAbsent(&c, "resources", .object(JSONObject()))
        if case .object(var res)? = c["resources"], let limits = res["limits"]?.object {
            var req = res["requests"]?.object ?? JSONObject()
            for (k, v) in limits where req[k] == nil { req[k] = v }
            res["requests"] = .object(req)
            c["resources"] = .object(res)
        }
        if case .array(var ports)? = c["ports"] {
            for i in ports.indices { setIfAbsent(&ports[i], "protocol", "TCP") }
            c["ports"] = .array(ports)
        }
        if case .array(var env)? = c["env"] {
            for i in env.indices where env[i]["valueFrom"]?["fieldRef"] != nil {
                if env[i]["valueFrom"]?["fieldRef"]?["apiVersion"] == nil {
                    env[i].set(["valueFrom", "fieldRef", "apiVersion"], "v1")
                }
            }
            c["env"] = .array(env)
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            guard case .object = c[probe] else { continue }
            var p = c[probe] ?? .null
            setIfAbsent(&p, "timeoutSeconds", 1)
            setIfAbsent(&p, "periodSeconds", 10)
            setIfAbsent(&p, "successThreshold", 1)
            setIfAbsent(&p, "failureThreshold", 3)
            if case .object = p["httpGet"] { p.set(["httpGet", "scheme"], p["httpGet"]?["scheme"] ?? "HTTP") }
            c[probe] = p
        }
    }

    static func volume(_ v: inout JSON) {
        for (key, field) in [("secret", "defaultMode"), ("configMap", "defaultMode"), ("projected", "defaultMode"), ("downwardAPI", "defaultMode")] {
            if case .object = v[key], v[key]?[field] == nil { v.set([key, field], 420) }
        }
        if case .object = v["hostPath"], v["hostPath"]?["type"] == nil { v.set(["hostPath", "type"], "") }
    }

    /// `stringData` is write-only: merged into `data` (base64), as upstream's secret strategy does.
    static func secretStringData(_ secret: inout JSON) {
        guard case .object(let plain)? = secret["stringData"] else { return }
        var data = secret["data"]?.object ?? JSONObject()
        for (k, v) in plain { if let text = v.string { data[k] = .string(Data(text.utf8).base64EncodedString()) } }
        secret["data"] = .object(data)
        secret["stringData"] = nil
    }

    /// Pod-only defaults on top of the spec defaults: service account, the default
    /// not-ready/unreachable tolerations (DefaultTolerationSeconds), priority, initial status.
    static func pod(_ pod: inout JSON) {
        var spec = pod["spec"] ?? .object(JSONObject())
        podSpec(&spec)
        // The ServiceAccount admission plugin leaves mirror pods alone: they may not use one.
        if !MirrorPods.isMirror(pod) {
            let sa = spec["serviceAccountName"]?.string ?? spec["serviceAccount"]?.string ?? "default"
            spec["serviceAccountName"] = .string(sa)
            spec["serviceAccount"] = .string(sa)
        }
        setIfAbsent(&spec, "enableServiceLinks", true)
        setIfAbsent(&spec, "priority", 0)
        setIfAbsent(&spec, "preemptionPolicy", "PreemptLowerPriority")
        var tolerations = spec["tolerations"]?.array ?? []
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let has = tolerations.contains { t in
                (t["key"]?.string == key || (t["key"] == nil && t["operator"]?.string == "Exists"))
                    && (t["effect"] == nil || t["effect"]?.string == "NoExecute" || t["effect"]?.string == "")
            }
            if !has {
                tolerations.append(.obj(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300]))
            }
        }
        spec["tolerations"] = .array(tolerations)
        pod["spec"] = spec
        var status = pod["status"]?.object ?? JSONObject()
        if status["phase"] == nil { status["phase"] = "Pending" }
        status["qosClass"] = .string(qosClass(spec))
        pod["status"] = .object(status)
    }

    /// Guaranteed when every container has equal cpu and memory requests and limits,
    /// BestEffort when none sets any, Burstable otherwise.
    static func qosClass(_ spec: JSON) -> String {
        var anySet = false
        var guaranteed = true
        let cs = (spec["containers"]?.array ?? []) + (spec["initContainers"]?.array ?? [])
        for c in cs {
            let req = c["resources"]?["requests"]?.object ?? JSONObject()
            let lim = c["resources"]?["limits"]?.object ?? JSONObject()
            for r in ["cpu", "memory"] {
                if req[r] != nil || lim[r] != nil { anySet = true }
                guard let l = lim[r], let q = req[r] ?? lim[r], Quantity.parse(l.string ?? "") == Quantity.parse(q.string ?? "") else {
                    guaranteed = false
                    continue
                }
            }
        }
        if !anySet { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    static func service(_ svc: inout JSON) {
        var spec = svc["spec"] ?? .object(JSONObject())
        setIfAbsent(&spec, "type", "ClusterIP")
        let type = spec["type"]?.string ?? "ClusterIP"
        if type != "ExternalName" {
            setIfAbsent(&spec, "sessionAffinity", "None")
            setIfAbsent(&spec, "internalTrafficPolicy", "Cluster")
        }
        if type == "NodePort" || type == "LoadBalancer" { setIfAbsent(&spec, "externalTrafficPolicy", "Cluster") }
        if type == "LoadBalancer" { setIfAbsent(&spec, "allocateLoadBalancerNodePorts", true) }
        if case .array(var ports)? = spec["ports"] {
            for i in ports.indices {
                setIfAbsent(&ports[i], "protocol", "TCP")
                if ports[i]["targetPort"] == nil, let p = ports[i]["port"] { ports[i]["targetPort"] = p }
            }
            spec["ports"] = .array(ports)
        }
        svc["spec"] = spec
        if svc["status"] == nil { svc["status"] = .obj(["loadBalancer": .object(JSONObject())]) }
    }

    static func workloadTemplate(_ obj: inout JSON) {
        guard case .object = obj["spec"]?["template"] else { return }
        var spec = obj["spec"]?["template"]?["spec"] ?? .object(JSONObject())
        podSpec(&spec)
        obj.set(["spec", "template", "spec"], spec)
        if obj["spec"]?["template"]?["metadata"]?["creationTimestamp"] == nil {
            obj.set(["spec", "template", "metadata", "creationTimestamp"], .null)
        }
    }

    static func deployment(_ d: inout JSON) {
        var spec = d["spec"] ?? .object(JSONObject())
        setIfAbsent(&spec, "replicas", 1)
        setIfAbsent(&spec, "revisionHistoryLimit", 10)
        setIfAbsent(&spec, "progressDeadlineSeconds", 600)
        var strategy = spec["strategy"] ?? .object(JSONObject())
        setIfAbsent(&strategy, "type", "RollingUpdate")
        if strategy["type"]?.string == "RollingUpdate" {
            var ru = strategy["rollingUpdate"] ?? .object(JSONObject())
            setIfAbsent(&ru, "maxSurge", "25%")
            setIfAbsent(&ru, "maxUnavailable", "25%")
            strategy["rollingUpdate"] = ru
        }
        spec["strategy"] = strategy
        d["spec"] = spec
        workloadTemplate(&d)
    }

    static func replicaSet(_ rs: inout JSON) {
        var spec = rs["spec"] ?? .object(JSONObject())
        setIfAbsent(&spec, "replicas", 1)
        rs["spec"] = spec
        workloadTemplate(&rs)
    }

    static func endpointSlice(_ s: inout JSON) {
        if case .array(var ports)? = s["ports"] {
            for i in ports.indices { setIfAbsent(&ports[i], "protocol", "TCP") }
            s["ports"] = .array(ports)
        }
    }
}

/// Resource quantities ("100m", "1Gi") in thousandths, via KubeAPI's parser.
enum Quantity {
    static func parse(_ text: String) -> Int64? { (try? KubeAPI.Quantity(text))?.milli }
    static func milli(_ v: JSON?) -> Int64? {
        switch v {
        case .string(let s)?: return parse(s)
        case .int(let i)?: return i.multipliedReportingOverflow(by: 1000).overflow ? nil : i * 1000
        case .double(let d)?: return Int64(exactly: (d * 1000).rounded())
        default: return nil
        }
    }
}
