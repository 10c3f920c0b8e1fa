/// Upstream's NodeRestriction admission plugin: a node identity may only change its own Node
/// and Lease, create mirror pods bound to itself, and update status of / delete pods bound to it.
enum NodeRestriction {
    static func admit(user: UserInfo, verb: String, resource: ResourceType, subresource: String,
                      new: JSON?, old: JSON?) throws(APIError) {
        guard let node = user.nodeName else { return }
        let name = new?.name ?? old?.name ?? ""
        func forbid(_ why: String) -> APIError { APIError.forbidden(resource, name, why) }
        switch (resource.storageKey, subresource) {
        case ("pods", ""):
            if verb == "create", let pod = new {
                guard pod.annotations["kubernetes.io/config.mirror"] != nil else {
                    throw forbid("pod does not have \"kubernetes.io/config.mirror\" annotation, node \"\(node)\" can only create mirror pods")
                }
                guard pod["spec"]?["nodeName"]?.string == node else {
                    throw forbid("node \"\(node)\" can only create pods with spec.nodeName set to itself")
                }
                if !(pod.ownerReferences.isEmpty) {
                    let ok = pod.ownerReferences.count == 1 && pod.ownerReferences[0]["kind"]?.string == "Node"
                        && pod.ownerReferences[0]["name"]?.string == node
                    if !ok { throw forbid("node \"\(node)\" can only create pods with an owner reference set to itself") }
                }
            }
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
}
