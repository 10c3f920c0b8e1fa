/// Field validation with upstream's messages, so 422 answers read the same as kube-apiserver's.
enum Validation {
    static let dns1123LabelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let dns1123SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let dns1035LabelMsg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    static func isAlnumLower(_ c: Character) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }

    static func isDNS1123Label(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 63, let f = s.first, let l = s.last, isAlnumLower(f), isAlnumLower(l) else { return false }
        return s.allSatisfy { isAlnumLower($0) || $0 == "-" }
    }

    static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    static func isDNS1035Label(_ s: String) -> Bool {
        guard isDNS1123Label(s), let f = s.first, ("a"..."z").contains(f) else { return false }
        return true
    }

    enum NameRule { case subdomain, label, dns1035, any }

    /// `generateName` plus five random characters, the base cut to 58 as upstream.
    static func generatedName(_ base: String) -> String {
        String(base.prefix(58)) + Identifiers.suffix()
    }

    static func nameRule(_ r: ResourceType) -> NameRule {
        switch r.storageKey {
        case "namespaces": return .label
        case "services": return .dns1035
        case "events", "leases.coordination.k8s.io": return .any
        default: return .subdomain
        }
    }

    static func objectMeta(_ obj: JSON, _ r: ResourceType) -> [FieldCause] {
        var out: [FieldCause] = []
        let name = obj.name
        if name.isEmpty {
            out.append(.required("metadata.name", "name or generateName is required"))
        } else {
            switch nameRule(r) {
            case .subdomain where !isDNS1123Subdomain(name):
                out.append(.invalid("metadata.name", .string(name), name.count > 253 ? "must be no more than 253 characters" : dns1123SubdomainMsg))
            case .label where !isDNS1123Label(name):
                out.append(.invalid("metadata.name", .string(name), name.count > 63 ? "must be no more than 63 characters" : dns1123LabelMsg))
            case .dns1035 where !isDNS1035Label(name):
                out.append(.invalid("metadata.name", .string(name), name.count > 63 ? "must be no more than 63 characters" : dns1035LabelMsg))
            case .any where name.contains("/") || name == "." || name == "..":
                out.append(.invalid("metadata.name", .string(name), "may not contain '/'"))
            default: break
            }
        }
        if let labels = obj["metadata"]?["labels"] {
            guard case .object(let o) = labels else { return out + [.invalid("metadata.labels", labels, "must be an object of strings")] }
            for (k, v) in o {
                if let e = qualifiedName(k) { out.append(.invalid("metadata.labels", .string(k), e)) }
                guard let s = v.string else { out.append(.invalid("metadata.labels", v, "must be a string")); continue }
                if !isLabelValue(s) {
                    out.append(.invalid("metadata.labels", .string(s), "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
                }
            }
        }
        if let ann = obj["metadata"]?["annotations"] {
            if case .object(let o) = ann {
                for (k, v) in o {
                    if let e = qualifiedName(k) { out.append(.invalid("metadata.annotations", .string(k), e)) }
                    if v.string == nil { out.append(.invalid("metadata.annotations", v, "must be a string")) }
                }
            } else {
                out.append(.invalid("metadata.annotations", ann, "must be an object of strings"))
            }
        }
        return out
    }

    static func isLabelValue(_ s: String) -> Bool {
        if s.isEmpty { return true }
        guard s.count <= 63, let f = s.first, let l = s.last, f.isLetter || f.isNumber, l.isLetter || l.isNumber else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// nil when `k` is a valid qualified name (`[prefix/]name`), else upstream's reason.
    static func qualifiedName(_ k: String) -> String? {
        let parts = k.split(separator: "/", omittingEmptySubsequences: false)
        let name: String
        if parts.count == 2 {
            if !isDNS1123Subdomain(String(parts[0])) { return "prefix part " + dns1123SubdomainMsg }
            name = String(parts[1])
        } else if parts.count == 1 {
            name = k
        } else {
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty || !isLabelValue(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    // MARK: per kind

    static func validate(_ r: ResourceType, _ obj: JSON) -> [FieldCause] {
        var out = objectMeta(obj, r)
        switch r.storageKey {
        case "pods": out += podSpec(obj["spec"], path: "spec")
        case "services": out += service(obj)
        case "deployments.apps", "replicasets.apps": out += workload(obj)
        case "configmaps", "secrets": out += dataKeys(obj)
        case "certificatesigningrequests.certificates.k8s.io": out += certificateRequest(obj)
        case "nodes":
            for (i, t) in (obj["spec"]?["taints"]?.array ?? []).enumerated() {
                let effect = t["effect"]?.string ?? ""
                if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) {
                    out.append(.notSupported("spec.taints[\(i)].effect", .string(effect), ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
                }
            }
        default: break
        }
        return out
    }

    static func dataKeys(_ obj: JSON) -> [FieldCause] {
        var out: [FieldCause] = []
        for field in ["data", "binaryData", "stringData"] {
            guard let o = obj[field]?.object else { continue }
            for (k, _) in o where k.isEmpty || k.count > 253 || !k.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) {
                out.append(.invalid("\(field)[\(k)]", .string(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
            }
        }
        return out
    }

    static func podSpec(_ spec: JSON?, path: String) -> [FieldCause] {
        var out: [FieldCause] = []
        guard let spec, case .object = spec else { return [.required(path)] }
        let containers = spec["containers"]?.array ?? []
        if containers.isEmpty { out.append(.required("\(path).containers")) }
        var volumeNames = Set<String>()
        for (i, v) in (spec["volumes"]?.array ?? []).enumerated() {
            let n = v["name"]?.string ?? ""
            if n.isEmpty { out.append(.required("\(path).volumes[\(i)].name")) }
            else if !isDNS1123Label(n) { out.append(.invalid("\(path).volumes[\(i)].name", .string(n), dns1123LabelMsg)) }
            else if !volumeNames.insert(n).inserted { out.append(.duplicate("\(path).volumes[\(i)].name", .string(n))) }
        }
        var names = Set<String>()
        for list in ["initContainers", "containers"] {
            for (i, c) in (spec[list]?.array ?? []).enumerated() {
                let p = "\(path).\(list)[\(i)]"
                let n = c["name"]?.string ?? ""
                if n.isEmpty { out.append(.required("\(p).name")) }
                else if !isDNS1123Label(n) { out.append(.invalid("\(p).name", .string(n), dns1123LabelMsg)) }
                else if !names.insert(n).inserted { out.append(.duplicate("\(p).name", .string(n))) }
                if (c["image"]?.string ?? "").isEmpty { out.append(.required("\(p).image")) }
                for (j, port) in (c["ports"]?.array ?? []).enumerated() {
                    let cp = port["containerPort"]?.int ?? 0
                    if cp < 1 || cp > 65535 { out.append(.invalid("\(p).ports[\(j)].containerPort", port["containerPort"] ?? .int(0), "must be between 1 and 65535, inclusive")) }
                    if let proto = port["protocol"]?.string, !["TCP", "UDP", "SCTP"].contains(proto) {
                        out.append(.notSupported("\(p).ports[\(j)].protocol", .string(proto), ["SCTP", "TCP", "UDP"]))
                    }
                }
                for (j, m) in (c["volumeMounts"]?.array ?? []).enumerated() {
                    let vn = m["name"]?.string ?? ""
                    if !volumeNames.contains(vn) { out.append(FieldCause(reason: .notFound, field: "\(p).volumeMounts[\(j)].name", message: "Not found: \"\(vn)\"")) }
                    if (m["mountPath"]?.string ?? "").isEmpty { out.append(.required("\(p).volumeMounts[\(j)].mountPath")) }
                }
                if let pol = c["imagePullPolicy"]?.string, !["Always", "IfNotPresent", "Never"].contains(pol) {
                    out.append(.notSupported("\(p).imagePullPolicy", .string(pol), ["Always", "IfNotPresent", "Never"]))
                }
            }
        }
        if let rp = spec["restartPolicy"]?.string, !["Always", "OnFailure", "Never"].contains(rp) {
            out.append(.notSupported("\(path).restartPolicy", .string(rp), ["Always", "OnFailure", "Never"]))
        }
        if let dp = spec["dnsPolicy"]?.string, !["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"].contains(dp) {
            out.append(.notSupported("\(path).dnsPolicy", .string(dp), ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]))
        }
        if let g = spec["terminationGracePeriodSeconds"]?.int, g < 0 {
            out.append(.invalid("\(path).terminationGracePeriodSeconds", .int(g), "must be greater than or equal to 0"))
        }
        return out
    }

    static func service(_ svc: JSON) -> [FieldCause] {
        var out: [FieldCause] = []
        let spec = svc["spec"] ?? .null
        let type = spec["type"]?.string ?? "ClusterIP"
        let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        if !types.contains(type) { out.append(.notSupported("spec.type", .string(type), types)) }
        let ports = spec["ports"]?.array ?? []
        let headless = spec["clusterIP"]?.string == "None"
        if ports.isEmpty && type != "ExternalName" && !headless { out.append(.required("spec.ports")) }
        var names = Set<String>()
        for (i, p) in ports.enumerated() {
            let port = p["port"]?.int ?? 0
            if port < 1 || port > 65535 { out.append(.invalid("spec.ports[\(i)].port", p["port"] ?? .int(0), "must be between 1 and 65535, inclusive")) }
            let name = p["name"]?.string ?? ""
            if ports.count > 1 && name.isEmpty { out.append(.required("spec.ports[\(i)].name")) }
            if !name.isEmpty && !names.insert(name).inserted { out.append(.duplicate("spec.ports[\(i)].name", .string(name))) }
            if let proto = p["protocol"]?.string, !["TCP", "UDP", "SCTP"].contains(proto) {
                out.append(.notSupported("spec.ports[\(i)].protocol", .string(proto), ["SCTP", "TCP", "UDP"]))
            }
            if let np = p["nodePort"]?.int, np != 0, type == "ClusterIP" {
                out.append(.forbidden("spec.ports[\(i)].nodePort", "may not be used when `type` is 'ClusterIP'"))
            }
        }
        if type == "ExternalName", (spec["externalName"]?.string ?? "").isEmpty { out.append(.required("spec.externalName")) }
        if let aff = spec["sessionAffinity"]?.string, !["None", "ClientIP"].contains(aff) {
            out.append(.notSupported("spec.sessionAffinity", .string(aff), ["ClientIP", "None"]))
        }
        return out
    }

    static func workload(_ obj: JSON) -> [FieldCause] {
        var out: [FieldCause] = []
        let spec = obj["spec"] ?? .null
        if let r = spec["replicas"]?.int, r < 0 { out.append(.invalid("spec.replicas", .int(r), "must be greater than or equal to 0")) }
        guard let sel = spec["selector"], case .object = sel else { return out + [.required("spec.selector")] }
        let selector = try? LabelSelector(object: sel)
        if selector?.isEmpty ?? true { out.append(.invalid("spec.selector", sel, "empty selector is invalid for deployment")) }
        let labels = spec["template"]?["metadata"]?["labels"]?.stringMap ?? [:]
        if let selector, !selector.isEmpty, !selector.matches(labels) {
            out.append(.invalid("spec.template.metadata.labels", JSON.stringMap(labels), "`selector` does not match template `labels`"))
        }
        out += podSpec(spec["template"]?["spec"], path: "spec.template.spec")
        if let rp = spec["template"]?["spec"]?["restartPolicy"]?.string, rp != "Always" {
            out.append(.notSupported("spec.template.spec.restartPolicy", .string(rp), ["Always"]))
        }
        if let st = spec["strategy"]?["type"]?.string, !["Recreate", "RollingUpdate"].contains(st) {
            out.append(.notSupported("spec.strategy.type", .string(st), ["Recreate", "RollingUpdate"]))
        }
        return out
    }

    // MARK: updates

    static func validateUpdate(_ r: ResourceType, new: JSON, old: JSON) -> [FieldCause] {
        var out: [FieldCause] = []
        switch r.storageKey {
        case "pods":
            out += podUpdate(new: new, old: old)
        case "deployments.apps", "replicasets.apps":
            if new["spec"]?["selector"] != old["spec"]?["selector"] {
                out.append(.invalid("spec.selector", new["spec"]?["selector"] ?? .null, "field is immutable"))
            }
        case "services":
            let oldIP = old["spec"]?["clusterIP"]?.string ?? ""
            if !oldIP.isEmpty, let newIP = new["spec"]?["clusterIP"]?.string, newIP != oldIP,
               new["spec"]?["type"]?.string != "ExternalName"
            {
                out.append(.invalid("spec.clusterIPs[0]", .string(newIP), "may not change once set"))
            }
        case "configmaps", "secrets":
            if old["immutable"]?.bool == true {
                for f in ["data", "binaryData"] where new[f] != old[f] {
                    out.append(.forbidden(f, "field is immutable when `immutable` is set"))
                }
            }
        default: break
        }
        return out
    }

    /// Pods are immutable but for images, activeDeadlineSeconds, added tolerations and the
    /// grace period, as upstream allows.
    static func podUpdate(new: JSON, old: JSON) -> [FieldCause] {
        let key = MirrorPods.annotation
        if new.annotations[key] != old.annotations[key] {
            let path = "metadata.annotations[\(key)]"
            return [.forbidden(path, old.annotations[key] == nil ? "may not add mirror pod annotation" : "may not remove or update mirror pod annotation")]
        }
        guard var a = new["spec"], var b = old["spec"] else { return [] }
        if b["nodeName"] != nil, a["nodeName"] != b["nodeName"] {
            return [.invalid("spec.nodeName", a["nodeName"] ?? .null, "field is immutable")]
        }
        for list in ["containers", "initContainers"] {
            if case .array(var ac)? = a[list], case .array(let bc)? = b[list], ac.count == bc.count {
                for i in ac.indices { ac[i]["image"] = bc[i]["image"] }
                a[list] = .array(ac)
            }
        }
        for k in ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"] {
            a[k] = nil
            b[k] = nil
        }
        if a != b {
            return [.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")]
        }
        return []
    }

    /// A CertificateSigningRequest names its signer and usages and carries a PEM request.
    static func certificateRequest(_ obj: JSON) -> [FieldCause] {
        var out: [FieldCause] = []
        let signer = obj["spec"]?["signerName"]?.string ?? ""
        if signer.isEmpty { out.append(.required("spec.signerName", "")) }
        else if !signer.contains("/") { out.append(.invalid("spec.signerName", .string(signer), "must be a fully qualified domain and path of the form 'example.com/signer-name'")) }
        if (obj["spec"]?["usages"]?.array ?? []).isEmpty { out.append(.required("spec.usages", "")) }
        if let seconds = obj["spec"]?["expirationSeconds"]?.int, seconds < 600 {
            out.append(.invalid("spec.expirationSeconds", .int(seconds), "may not specify a duration less than 600 seconds (10 minutes)"))
        }
        if obj["spec"]?["request"]?.string == nil { out.append(.required("spec.request", "")) }
        else {
            do { _ = try NodeClientCSR.parseRequest(obj) } catch { out.append(.invalid("spec.request", .string("<request>"), "PEM block type must be CERTIFICATE REQUEST")) }
        }
        return out
    }
}
