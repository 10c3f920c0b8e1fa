/// Objects every cluster has from the start, as kube-apiserver's bootstrap controllers make
/// them: the four system namespaces and the `kubernetes` Service pointing at this server.
enum Seed {
    static let namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]

    static func ensure(_ registry: Registry, allocator: ServiceAllocator, securePort: Int, endpointAddress: String?) throws {
        let ctx = RequestContext.controllers
        for ns in namespaces {
            try createIfMissing(registry, ResourceRegistry.namespaces, "", .obj(["metadata": .obj(["name": .string(ns)])]), ctx)
        }
        let svc = JSON.obj([
            "metadata": .obj(["name": "kubernetes", "labels": .obj(["component": "apiserver", "provider": "kubernetes"])]),
            "spec": .obj([
                "type": "ClusterIP", "clusterIP": .string(allocator.range.first),
                "ports": [.obj(["name": "https", "port": 443, "protocol": "TCP", "targetPort": .int(Int64(securePort))])],
                "sessionAffinity": "None",
            ]),
        ])
        try createIfMissing(registry, ResourceRegistry.services, "default", svc, ctx)
        guard let ip = endpointAddress else { return }
        let ports: JSON = [.obj(["name": "https", "port": .int(Int64(securePort)), "protocol": "TCP"])]
        let eps = JSON.obj([
            "metadata": .obj(["name": "kubernetes", "labels": .obj(["endpointslice.kubernetes.io/skip-mirror": "true"])]),
            "subsets": [.obj(["addresses": [.obj(["ip": .string(ip)])], "ports": ports])],
        ])
        try registry.update(ResourceRegistry.endpoints, namespace: "default", name: "kubernetes", object: eps, context: ctx)
        let slice = JSON.obj([
            "metadata": .obj(["name": "kubernetes", "labels": .obj([
                "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
            ])]),
            "addressType": "IPv4",
            "endpoints": [.obj(["addresses": [.string(ip)], "conditions": .obj(["ready": true])])],
            "ports": ports,
        ])
        if try registry.getIfPresent(ResourceRegistry.endpointslices, namespace: "default", name: "kubernetes") == nil {
            try createIfMissing(registry, ResourceRegistry.endpointslices, "default", slice, ctx)
        }
    }

    static func createIfMissing(_ registry: Registry, _ r: ResourceType, _ ns: String, _ obj: JSON, _ ctx: RequestContext) throws {
        // Checked first: admission (the Service IP allocator) would otherwise refuse before
        // storage could say AlreadyExists.
        if try registry.getIfPresent(r, namespace: ns, name: obj.name) != nil { return }
        do {
            _ = try registry.create(r, namespace: ns, object: obj, context: ctx)
        } catch let e as APIError where e.reason == "AlreadyExists" {
            return
        }
    }
}
