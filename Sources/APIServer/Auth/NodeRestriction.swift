/// Upstream's NodeRestriction admission plugin: a node identity may only change its own Node
/// and Lease, create mirror pods bound to itself, and update status of / delete pods bound to it.
enum NodeRestriction {
    /// `nodeUID` looks a Node's UID up (for the owner reference of a mirror pod).
    static func admit(user: UserInfo, verb: String, resource: ResourceType, subresource: String,
                      new: JSON?, old: JSON?, nodeUID: (String) -> String? = { _ in nil }) throws(APIError) {
        guard let node = user.nodeName else { return }
        let name = new?.name ?? old?.name ?? ""
        func forbid(_ why: String) -> APIError { APIError.forbidden(resource, name, why) }
        switch (resource.storageKey, subresource) {
        case ("pods", ""):
            if verb == "create", let pod = new { try admitMirrorPodCreate(node: node, pod: pod, resource: resource, nodeUID: nodeUID) }
            if verb == "delete", let pod = old, pod["spec"]?["nodeName"]?.string != node {
                throw forbid("node \"\(node)\" can only delete pods with spec.nodeName set to itself")
            }
        case ("pods", "status"):
            if let pod = old, pod["spec"]?["nodeName"]?.string != node {
                throw forbid("node \"\(node)\" can only update pod status for pods with spec.nodeName set to itself")
            }
        case ("pods", "eviction"):
            if let pod = old, pod["spec"]?["nodeName"]?.string != node {
                throw forbid("node \"\(node)\" can only evict pods with spec.nodeName set to itself")
            }
        case ("nodes", _):
            if name != node { throw forbid("node \"\(node)\" is not allowed to modify node \"\(name)\"") }
        case ("leases.coordination.k8s.io", _):
            if name != node || (new ?? old)?.namespace != "kube-node-lease" {
                throw forbid("can only access node lease with the same name as the requesting node")
            }
        default:
            break
        }
    }

    /// A node may create only mirror pods: bound to itself, owned (if at all) by its own Node
    /// as controller, referencing no other API object (service account, secrets, configmaps,
    /// claims), so that a compromised node cannot use a pod to read what it may not.
    static func admitMirrorPodCreate(node: String, pod: JSON, resource: ResourceType, nodeUID: (String) -> String?) throws(APIError) {
        func forbid(_ why: String) -> APIError { APIError.forbidden(resource, pod.name, why) }
        guard pod.annotations[MirrorPods.annotation] != nil else {
            throw forbid("pod does not have \"\(MirrorPods.annotation)\" annotation, node \"\(node)\" can only create mirror pods")
        }
        guard pod["spec"]?["nodeName"]?.string == node else {
            throw forbid("node \"\(node)\" can only create pods with spec.nodeName set to itself")
        }
        let owners = pod.ownerReferences
        if owners.count > 1 { throw forbid("node \"\(node)\" can only create pods with a single owner reference set to itself") }
        if let owner = owners.first {
            guard owner["apiVersion"]?.string == "v1", owner["kind"]?.string == "Node", owner["name"]?.string == node else {
                throw forbid("node \"\(node)\" can only create pods with an owner reference set to itself")
            }
            guard owner["controller"]?.bool == true else {
                throw forbid("node \"\(node)\" can only create pods with a controller owner reference set to itself")
            }
            if owner["blockOwnerDeletion"]?.bool == true {
                throw forbid("node \"\(node)\" must not set blockOwnerDeletion on an owner reference")
            }
            guard let uid = nodeUID(node) else { throw APIError.notFound(ResourceRegistry.nodes, node) }
            let claimed = owner["uid"]?.string ?? ""
            if claimed != uid { throw forbid("node \(node) UID mismatch: expected \(claimed) got \(uid)") }
        }
        let spec = pod["spec"] ?? .null
        if let sa = spec["serviceAccountName"]?.string, !sa.isEmpty {
            throw forbid("node \"\(node)\" can not create pods that reference a service account")
        }
        if !PodReferences.names(of: pod, kind: "secrets").isEmpty {
            throw forbid("node \"\(node)\" can not create pods that reference secrets")
        }
        if !PodReferences.names(of: pod, kind: "configmaps").isEmpty {
            throw forbid("node \"\(node)\" can not create pods that reference configmaps")
        }
        if (spec["volumes"]?.array ?? []).contains(where: { $0["persistentVolumeClaim"] != nil }) {
            throw forbid("node \"\(node)\" can not create pods that reference persistentvolumeclaims")
        }
    }
}

/// Facts about mirror pods (static pods' copies that kubelets create) the server needs.
enum MirrorPods {
    static let annotation = "kubernetes.io/config.mirror"

    static func isMirror(_ pod: JSON) -> Bool { pod.annotations[annotation] != nil }
}
