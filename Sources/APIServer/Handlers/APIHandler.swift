import Foundation
import KubeAPI
import Logging
import NIOHTTP1

/// Turns HTTP requests into API operations: authentication, authorization, routing to
/// discovery or to the resource handlers, and every failure answered as a `Status`.
final class APIHandler: Sendable {
    let registry: Registry
    let authenticator: Authenticator
    let authorizer: Authorizer
    let discovery: Discovery
    let openapi: OpenAPIDocuments
    let kubelet: KubeletProxy
    let logger: Logger
    let serverAddress: String
    let watchTimeout: ClosedRange<Int>
    let batchers = LoopBatchers()
    let metrics = RequestMetrics()

    init(registry: Registry, authenticator: Authenticator, kubelet: KubeletProxy, logger: Logger, serverAddress: String,
         watchTimeout: ClosedRange<Int> = 1800...3600)
    {
        self.registry = registry
        self.authenticator = authenticator
        authorizer = Authorizer(store: registry.store)
        discovery = Discovery(resources: registry.resources)
        openapi = OpenAPIDocuments(resources: registry.resources)
        self.kubelet = kubelet
        self.logger = logger
        self.serverAddress = serverAddress
        self.watchTimeout = watchTimeout
    }

    func handle(_ req: HTTPRequest) async -> HTTPResponse {
        let authorization = req.headers.first(name: "Authorization")
        guard let user = authenticator.authenticate(authorization: authorization, clientCertificateDER: req.clientCertificateDER)
            ?? (authorization == nil && req.clientCertificateDER == nil && ClusterInfo.isAnonymousRead(req) ? UserInfo.anonymous : nil)
        else {
            return .error(.unauthorized)
        }
        let info = RequestInfo(method: req.method, path: req.path, query: req.query)
        let response = await respond(info, req, user)
        // Only served resources are counted: arbitrary paths must not grow the label sets.
        if info.isResourceRequest, registry.resources.find(group: info.group, version: info.version, plural: info.resource) != nil {
            metrics.record(info, user: user.name, contentType: req.headers.first(name: "Content-Type") ?? "", code: response.statusCode,
                           dryRun: req.query["dryRun"]?.contains("All") ?? false)
        }
        return response
    }

    private func respond(_ info: RequestInfo, _ req: HTTPRequest, _ user: UserInfo) async -> HTTPResponse {
        do {
            if !info.isResourceRequest { return try nonResource(info, req, user) }
            guard let r = registry.resources.find(group: info.group, version: info.version, plural: info.resource) else {
                throw APIError.notFoundPath()
            }
            if !info.subresource.isEmpty, r.subresources[info.subresource] == nil { throw APIError.notFoundPath() }
            if r.namespaced == false, info.resource != "namespaces", !info.namespace.isEmpty { throw APIError.notFoundPath() }
            var attrs = RequestAttributes(user: user, verb: info.verb, resource: r)
            attrs.subresource = info.subresource
            attrs.namespace = r.namespaced ? info.namespace : ""
            attrs.name = info.name
            if let fs = req.param("fieldSelector") { attrs.fieldSelector = try FieldSelector(parsing: fs) }
            try authorizer.authorize(attrs)
            let ctx = RequestContext(user: user, dryRun: req.query["dryRun"]?.contains("All") ?? false,
                                     fieldValidation: req.param("fieldValidation") ?? "")
            return try await resource(r, info, req, ctx)
        } catch let e as APIError {
            return .error(e)
        } catch let e as JSONSyntaxError {
            return .error(.badRequest("the body of the request is not valid JSON: \(e)"))
        } catch let e as WatchHub.TooOld {
            return .error(.gone("too old resource version: \(e.requested) (\(e.oldest))"))
        } catch {
            logger.error("request \(req.method) \(req.path) failed: \(error)")
            return .error(.internal(String(describing: error)))
        }
    }

    // MARK: routing

    private func resource(_ r: ResourceType, _ info: RequestInfo, _ req: HTTPRequest, _ ctx: RequestContext) async throws -> HTTPResponse {
        let ns = r.namespaced ? info.namespace : ""
        if r.namespaced, ns.isEmpty, !["list", "watch"].contains(info.verb) {
            throw APIError.notFoundPath()
        }
        switch info.subresource {
        case "":
            switch info.verb {
            case "get": return try get(r, ns, info.name, req)
            case "list": return try list(r, ns, req)
            case "watch": return try watch(r, ns, info.name, req)
            case "create": return try create(r, ns, req, ctx)
            case "update": return try update(r, ns, info.name, "", req, ctx)
            case "patch": return try patch(r, ns, info.name, "", req, ctx)
            case "delete": return try delete(r, ns, info.name, req, ctx)
            case "deletecollection": return try deleteCollection(r, ns, req, ctx)
            default: throw APIError.methodNotAllowed()
            }
        case "status", "approval":
            switch info.verb {
            case "get": return try get(r, ns, info.name, req)
            case "update": return try update(r, ns, info.name, info.subresource, req, ctx)
            case "patch": return try patch(r, ns, info.name, info.subresource, req, ctx)
            default: throw APIError.methodNotAllowed()
            }
        case "scale": return try scale(r, ns, info, req, ctx)
        case "binding": return try binding(ns, info, req, ctx)
        case "eviction": return try eviction(ns, info, req, ctx)
        case "finalize": return try finalize(info, req, ctx)
        case "log", "exec", "attach", "portforward":
            return try await kubelet.proxy(info: info, request: req, registry: registry)
        default:
            throw APIError.notFoundPath()
        }
    }

    private func nonResource(_ info: RequestInfo, _ req: HTTPRequest, _ user: UserInfo) throws -> HTTPResponse {
        guard req.method == .GET || req.method == .HEAD else { throw APIError.methodNotAllowed() }
        let p = info.parts
        let accept = req.headers.first(name: "Accept") ?? ""
        let wantsAggregated = accept.contains("as=APIGroupDiscoveryList") && accept.contains("v=v2")
        switch p.first {
        case "version"? where p.count == 1: return .json(.ok, discovery.version())
        case "healthz"?, "livez"?, "readyz"?:
            return .full(.ok, ["Content-Type": "text/plain; charset=utf-8"], Array("ok".utf8))
        case "metrics"? where p.count == 1:
            // Upstream grants /metrics to system:monitoring (and cluster admins) only.
            guard user.isAdmin || user.groups.contains("system:monitoring") else {
                throw APIError(code: 403, reason: "Forbidden", message: "forbidden: User \"\(user.name)\" cannot get path \"/metrics\"")
            }
            return .full(.ok, ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], Array(metrics.render().utf8))
        case "api"? where p.count == 1:
            if wantsAggregated { return aggregated(discovery.aggregated(legacy: true)) }
            return .json(.ok, discovery.apiVersions(serverAddress: serverAddress))
        case "api"? where p.count == 2:
            guard let l = discovery.resourceList(group: "", version: p[1]) else { throw APIError.notFoundPath() }
            return .json(.ok, l)
        case "apis"? where p.count == 1:
            if wantsAggregated { return aggregated(discovery.aggregated(legacy: false)) }
            return .json(.ok, discovery.apiGroupList())
        case "apis"? where p.count == 2:
            guard let g = discovery.apiGroup(p[1]) else { throw APIError.notFoundPath() }
            return .json(.ok, g)
        case "apis"? where p.count == 3:
            guard let l = discovery.resourceList(group: p[1], version: p[2]) else { throw APIError.notFoundPath() }
            return .json(.ok, l)
        case "openapi"? where p.count >= 2 && p[1] == "v3":
            if p.count == 2 { return .full(.ok, ["Content-Type": "application/json"], openapi.root) }
            let key = p[2...].joined(separator: "/")
            guard let doc = openapi.documents[key] else { throw APIError.notFoundPath() }
            return .full(.ok, ["Content-Type": "application/json", "Cache-Control": "public, immutable",
                               "Etag": "\"\(openapi.hashes[key] ?? "")\""], doc)
        default:
            throw APIError.notFoundPath()
        }
    }

    private func aggregated(_ doc: JSON) -> HTTPResponse {
        .full(.ok, ["Content-Type": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"], doc.serialized())
    }

    // MARK: helpers

    /// The request body as JSON (YAML accepted and converted at the edge).
    func body(_ req: HTTPRequest) throws -> JSON {
        guard !req.body.isEmpty else { throw APIError.badRequest("the request body is empty") }
        let type = req.headers.first(name: "Content-Type") ?? "application/json"
        if type.contains("yaml") && !type.contains("apply-patch") || (type.contains("apply-patch") && req.body.first != UInt8(ascii: "{")) {
            let text = String(decoding: req.body, as: UTF8.self)
            do {
                guard let doc = try Manifest.documents(text).first else { throw APIError.badRequest("the YAML body holds no document") }
                return try JSON.parse(Array(JSONEncoder().encode(doc)))
            } catch let e as APIError {
                throw e
            } catch {
                throw APIError.badRequest("the body of the request is not valid YAML: \(error)")
            }
        }
        if type.contains("protobuf") { return try Self.protobufBody(req.body) }
        return try JSON.parse(req.body)
    }

    static func protobufBody(_ bytes: [UInt8]) throws -> JSON {
        do {
            return try KubeProtobuf.shared.decodeBody(bytes)
        } catch {
            throw APIError.badRequest("the body of the request could not be decoded as protobuf: \(error.message)")
        }
    }

    func wantsTable(_ req: HTTPRequest) -> Bool {
        (req.headers.first(name: "Accept") ?? "").contains("as=Table")
    }

    static let tableContentType = "application/json;as=Table;v=v1;g=meta.k8s.io"

    func objectResponse(_ r: ResourceType, _ obj: JSON, _ req: HTTPRequest, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        if wantsTable(req) {
            let t = Tables.table(r, rows: [Tables.row(r, obj, includeObject: req.param("includeObject") ?? "Metadata", now: Date())],
                                 resourceVersion: obj.resourceVersion, continueToken: nil)
            return .full(status, ["Content-Type": Self.tableContentType], t.serialized())
        }
        return .json(status, obj)
    }

    /// `Status` Success, as upstream answers deletes of most kinds and subresource creates.
    static func success(_ r: ResourceType, name: String, uid: String = "", code: Int = 200) -> JSON {
        var details = JSONObject()
        details["name"] = .string(name)
        if !r.group.isEmpty { details["group"] = .string(r.group) }
        details["kind"] = .string(r.plural)
        if !uid.isEmpty { details["uid"] = .string(uid) }
        return .obj(["kind": "Status", "apiVersion": "v1", "metadata": .obj([:]), "status": "Success",
                     "details": .object(details), "code": .int(Int64(code))])
    }
}

extension APIError {
    /// Upstream's answer for a path nothing serves.
    static func notFoundPath() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 details: .obj(["causes": [.obj(["reason": "UnexpectedServerResponse", "message": "404 page not found"])]]))
    }
}
