/// What a request wants to do, as upstream's `authorizer.Attributes`.
public struct RequestAttributes: Sendable {
    public var user: UserInfo
    public var verb: String
    public var resource: ResourceType?
    public var subresource: String = ""
    public var namespace: String = ""
    public var name: String = ""
    public var fieldSelector: FieldSelector?

    var resourceText: String {
        guard let resource else { return "" }
        return subresource.isEmpty ? resource.plural : "\(resource.plural)/\(subresource)"
    }
}

/// Decides who may do what: `system:masters` everything; nodes what upstream's Node authorizer
/// and the `system:node` rules allow; every authenticated user the discovery endpoints. There
/// is no RBAC: any other identity is denied, with upstream's message.
public struct Authorizer: Sendable {
    let store: Store

    public func authorize(_ a: RequestAttributes) throws(APIError) {
        if a.user.isAdmin { return }
        guard let resource = a.resource else { return }  // non-resource paths: discovery, version, health
        if a.user.groups.contains("system:unauthenticated") {
            // kubeadm's cluster-info Role: the one object anonymous clients may read.
            if a.verb == "get", resource.storageKey == "configmaps", a.subresource.isEmpty,
               a.namespace == ClusterInfo.namespace, a.name == ClusterInfo.name { return }
            throw deny(a, reason: nil)
        }
        if a.user.groups.contains(BootstrapToken.group) {
            // system:node-bootstrapper (+ kubeadm's nodeclient auto-approval): ask for a certificate, read it back.
            if resource.storageKey == "certificatesigningrequests.certificates.k8s.io", a.subresource.isEmpty,
               ["create", "get", "list", "watch"].contains(a.verb) { return }
            throw deny(a, reason: nil)
        }
        if let node = a.user.nodeName {
            if let why = nodeDecision(node, a, resource) {
                throw deny(a, reason: why)
            }
            return
        }
        throw deny(a, reason: nil)
    }

    func deny(_ a: RequestAttributes, reason: String?) -> APIError {
        let scope = a.namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(a.namespace)\""
        var why = "User \"\(a.user.name)\" cannot \(a.verb) resource \"\(a.resourceText)\" in API group \"\(a.resource?.group ?? "")\" \(scope)"
        if let reason, !reason.isEmpty { why += ": \(reason)" }
        return APIError.forbidden(a.resource, a.name, why)
    }

    /// nil = allowed; "" = denied by the static rules; text = the Node authorizer's reason.
    func nodeDecision(_ node: String, _ a: RequestAttributes, _ r: ResourceType) -> String? {
        let read = ["get", "list", "watch"].contains(a.verb)
        switch (r.storageKey, a.subresource) {
        case ("nodes", ""):
            if read || a.verb == "create" { return nil }
            if ["update", "patch", "delete"].contains(a.verb) { return a.name == node ? nil : "node '\(node)' cannot modify node '\(a.name)'" }
        case ("nodes", "status"):
            if a.verb == "get" || a.verb == "update" || a.verb == "patch" {
                return a.name == node ? nil : "node '\(node)' cannot modify node '\(a.name)'"
            }
        case ("pods", ""):
            if read || a.verb == "create" || a.verb == "delete" { return nil }
        case ("pods", "status"):
            if ["get", "update", "patch"].contains(a.verb) { return nil }
        case ("pods", "eviction"):
            if a.verb == "create" { return nil }
        case ("events", ""):
            if ["create", "update", "patch"].contains(a.verb) { return nil }
        case ("certificatesigningrequests.certificates.k8s.io", ""):
            // Client certificate renewal, as system:node's rules allow.
            if read || a.verb == "create" { return nil }
        case ("services", ""), ("endpoints", ""), ("endpointslices.discovery.k8s.io", ""):
            if read { return nil }
        case ("leases.coordination.k8s.io", ""):
            guard ["get", "create", "update", "patch", "delete"].contains(a.verb) else { return "" }
            if a.namespace != "kube-node-lease" { return "can only access leases in the kube-node-lease namespace" }
            if a.verb != "create", a.name != node { return "can only access node lease with the same name as the requesting node" }
            return nil
        case ("secrets", ""), ("configmaps", ""), ("serviceaccounts", ""):
            var name = a.name
            if a.verb == "list" || a.verb == "watch" {
                guard let pinned = a.fieldSelector?.pinned("metadata.name") else { return "" }
                name = pinned
            } else if a.verb != "get" {
                return ""
            }
            return referencedByPodOnNode(node, kind: r.plural, namespace: a.namespace, name: name)
                ? nil : "no relationship found between node '\(node)' and this object"
        default:
            break
        }
        return ""
    }

    /// The Node authorizer's graph, computed on demand: does a pod bound to `node` use the object?
    func referencedByPodOnNode(_ node: String, kind: String, namespace: String, name: String) -> Bool {
        let needle = Array("\"nodeName\":\"\(node)\"".utf8)
        guard let page = try? store.list(resource: "pods", namespace: namespace, filter: { $0.contains(subsequence: needle) })
        else { return false }
        for bytes in page.items {
            guard let pod = try? JSON.parse(bytes), pod["spec"]?["nodeName"]?.string == node else { continue }
            if PodReferences.names(of: pod, kind: kind).contains(name) { return true }
        }
        return false
    }
}

/// The secrets, configmaps and service account a pod uses (volumes, env, envFrom, pull secrets).
enum PodReferences {
    static func names(of pod: JSON, kind: String) -> Set<String> {
        var out = Set<String>()
        let spec = pod["spec"] ?? .null
        switch kind {
        case "serviceaccounts":
            out.insert(spec["serviceAccountName"]?.string ?? "default")
            return out
        case "secrets":
            for s in spec["imagePullSecrets"]?.array ?? [] { if let n = s["name"]?.string { out.insert(n) } }
        default: break
        }
        let volKey = kind == "secrets" ? "secret" : "configMap"
        let nameKey = kind == "secrets" ? "secretName" : "name"
        for v in spec["volumes"]?.array ?? [] {
            if let n = v[volKey]?[nameKey]?.string { out.insert(n) }
            for src in v["projected"]?["sources"]?.array ?? [] {
                if let n = src[volKey]?["name"]?.string { out.insert(n) }
            }
        }
        let refKey = kind == "secrets" ? "secretKeyRef" : "configMapKeyRef"
        let fromKey = kind == "secrets" ? "secretRef" : "configMapRef"
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in spec[list]?.array ?? [] {
                for e in c["env"]?.array ?? [] { if let n = e["valueFrom"]?[refKey]?["name"]?.string { out.insert(n) } }
                for e in c["envFrom"]?.array ?? [] { if let n = e[fromKey]?["name"]?.string { out.insert(n) } }
            }
        }
        return out
    }
}

extension Array where Element == UInt8 {
    /// Byte-substring search, to skip decoding rows that cannot match.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var i = 0
        let last = count - needle.count
        return withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                while i <= last {
                    if h[i] == first {
                        var j = 1
                        while j < n.count && h[i + j] == n[j] { j += 1 }
                        if j == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}
