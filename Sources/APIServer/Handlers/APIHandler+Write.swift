import NIOHTTP1

extension APIHandler {
    func create(_ r: ResourceType, _ ns: String, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        let obj = try registry.create(r, namespace: ns, object: try body(req), context: ctx)
        return objectResponse(r, obj, req, status: .created)
    }

    func update(_ r: ResourceType, _ ns: String, _ name: String, _ sub: String, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        let (obj, created) = try registry.update(r, namespace: ns, name: name, object: try body(req), subresource: sub, context: ctx)
        return objectResponse(r, obj, req, status: created ? .created : .ok)
    }

    func patchType(_ req: HTTPRequest) throws -> PatchType {
        let ct = (req.headers.first(name: "Content-Type") ?? "").split(separator: ";").first.map {
            String($0).trimmingCharacters(in: .whitespaces)
        } ?? ""
        guard let t = PatchType(rawValue: ct) else { throw APIError.unsupportedMediaType(ct) }
        return t
    }

    func patch(_ r: ResourceType, _ ns: String, _ name: String, _ sub: String, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        let type = try patchType(req)
        let (obj, created) = try registry.patch(r, namespace: ns, name: name, type: type, patch: try body(req), subresource: sub, context: ctx)
        return objectResponse(r, obj, req, status: created ? .created : .ok)
    }

    func deleteOptions(_ req: HTTPRequest) throws -> DeleteOptions {
        var opts = DeleteOptions()
        if !req.body.isEmpty {
            let isProtobuf = (req.headers.first(name: "Content-Type") ?? "").contains("protobuf")
            opts = try DeleteOptions(json: isProtobuf ? try Self.protobufBody(req.body) : try JSON.parse(req.body))
        }
        if let g = req.param("gracePeriodSeconds"), let v = Int64(g) { opts.gracePeriodSeconds = v }
        if let p = req.param("propagationPolicy") { opts.propagationPolicy = p }
        if let o = req.param("orphanDependents"), opts.propagationPolicy == nil { opts.propagationPolicy = o == "true" ? "Orphan" : "Background" }
        if req.query["dryRun"]?.contains("All") == true { opts.dryRun = true }
        return opts
    }

    func delete(_ r: ResourceType, _ ns: String, _ name: String, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        let outcome = try registry.delete(r, namespace: ns, name: name, options: try deleteOptions(req), context: ctx)
        switch outcome {
        case .pending(let obj): return objectResponse(r, obj, req)
        case .deleted(let obj):
            if Strategy.returnsDeletedObject(r) { return objectResponse(r, obj, req) }
            return .json(.ok, Self.success(r, name: name, uid: obj.uid))
        }
    }

    func deleteCollection(_ r: ResourceType, _ ns: String, _ req: HTTPRequest, _ ctx: RequestContext) throws -> HTTPResponse {
        let (labels, fields) = try selectors(r, req)
        let opts = try deleteOptions(req)
        let items = try registry.list(r, namespace: r.namespaced && !ns.isEmpty ? ns : nil, labels: labels, fields: fields)
        var out: [JSON] = []
        for item in items {
            do {
                out.append(try registry.delete(r, namespace: item.namespace, name: item.name, options: opts, context: ctx).object)
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
        let list = JSON.obj(["kind": .string("\(r.kind)List"), "apiVersion": .string(r.apiVersion),
                             "metadata": .obj(["resourceVersion": .string(String(registry.store.currentRV))]),
                             "items": .array(out)])
        return .json(.ok, list)
    }
}
