import NIOHTTP1

extension APIHandler {
    func scale(_ r: ResourceType, _ ns: String, _ info: RequestInfo, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        switch info.verb {
        case "get":
            return .json(.ok, registry.scale(of: try registry.get(r, namespace: ns, name: info.name)))
        case "update":
            let body = try body(req)
            if let k = body["kind"]?.string, k != "Scale" { throw APIError.badRequest("expected a Scale, got \(k)") }
            let obj = try registry.updateScale(r, namespace: ns, name: info.name, context: ctx) { _ in body }
            return .json(.ok, registry.scale(of: obj))
        case "patch":
            let type = try patchType(req)
            let body = try body(req)
            let obj = try registry.updateScale(r, namespace: ns, name: info.name, context: ctx) { current in
                try Registry.applyPatch(type, body, to: current, definition: "autoscaling.Scale")
            }
            return .json(.ok, registry.scale(of: obj))
        default:
            throw APIError.methodNotAllowed()
        }
    }

    func binding(_ ns: String, _ info: RequestInfo, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        guard info.verb == "create" else { throw APIError.methodNotAllowed() }
        let b = try body(req)
        let target = b["target"] ?? .null
        if let kind = target["kind"]?.string, !kind.isEmpty, kind != "Node" {
            throw APIError.invalid(ResourceRegistry.pods, info.name, [.notSupported("target.kind", .string(kind), ["Node"])])
        }
        try registry.bind(namespace: ns, pod: info.name, node: target["name"]?.string ?? "",
                          uid: b["metadata"]?["uid"]?.string, context: ctx)
        return .json(.created, Self.success(ResourceRegistry.pods, name: info.name, code: 201))
    }

    func eviction(_ ns: String, _ info: RequestInfo, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        guard info.verb == "create" else { throw APIError.methodNotAllowed() }
        let b = req.body.isEmpty ? JSON.obj([:]) : try body(req)
        let opts = try DeleteOptions(json: b["deleteOptions"] ?? .obj([:]))
        try registry.delete(ResourceRegistry.pods, namespace: ns, name: info.name, options: opts, context: ctx)
        return .json(.created, Self.success(ResourceRegistry.pods, name: info.name, code: 201))
    }

    func finalize(_ info: RequestInfo, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        guard info.verb == "update" else { throw APIError.methodNotAllowed() }
        let b = try body(req)
        let finalizers = (b["spec"]?["finalizers"]?.array ?? []).compactMap(\.string)
        let obj = try registry.finalizeNamespace(info.name, finalizers: finalizers, context: ctx)
        return .json(.ok, obj)
    }
}
