import NIOHTTP1

/// What a request path and method mean, as upstream's `RequestInfoFactory` reads them:
/// `/api/v1/namespaces/ns/pods/name/status` → resource pods, namespace ns, name, subresource.
struct RequestInfo: Sendable, Equatable {
    var isResourceRequest = false
    var verb = ""
    var group = ""
    var version = ""
    var namespace = ""
    var resource = ""
    var subresource = ""
    var name = ""
    /// Non-resource requests: the path parts after the prefix (`["api"]`, `["apis", "apps"]`).
    var parts: [String] = []

    static let namespaceSubresources: Set<String> = ["status", "finalize"]

    init(method: HTTPMethod, path: String, query: [String: [String]]) {
        parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let isWatchParam = ["true", "1"].contains(query["watch"]?.first?.lowercased() ?? "")
        var rest: ArraySlice<String>
        switch parts.first {
        case "api":
            guard parts.count >= 2 else { verb = Self.nonResourceVerb(method); return }
            version = parts[1]
            rest = parts[2...]
        case "apis":
            guard parts.count >= 3 else { verb = Self.nonResourceVerb(method); return }
            group = parts[1]
            version = parts[2]
            rest = parts[3...]
        default:
            verb = Self.nonResourceVerb(method)
            return
        }
        guard !rest.isEmpty else { verb = Self.nonResourceVerb(method); return }
        isResourceRequest = true
        var legacyWatch = false
        if rest.first == "watch" {
            legacyWatch = true
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { isResourceRequest = false; verb = Self.nonResourceVerb(method); return }
        if rest.first == "namespaces", rest.count >= 2 {
            namespace = rest[rest.startIndex + 1]
            if rest.count > 2, !Self.namespaceSubresources.contains(rest[rest.startIndex + 2]) {
                rest = rest.dropFirst(2)
            }
        }
        let r = Array(rest)
        resource = r[0]
        if r.count >= 2 { name = r[1] }
        if r.count >= 3 { subresource = r[2] }
        if r.count > 3 { subresource = r[2...].joined(separator: "/") }
        switch method {
        case .GET, .HEAD:
            if name.isEmpty { verb = (legacyWatch || isWatchParam) ? "watch" : "list" } else { verb = legacyWatch ? "watch" : "get" }
        case .POST: verb = "create"
        case .PUT: verb = "update"
        case .PATCH: verb = "patch"
        case .DELETE: verb = name.isEmpty ? "deletecollection" : "delete"
        default: verb = ""
        }
    }

    static func nonResourceVerb(_ m: HTTPMethod) -> String {
        switch m {
        case .GET, .HEAD: return "get"
        case .POST: return "post"
        case .PUT: return "put"
        case .PATCH: return "patch"
        case .DELETE: return "delete"
        default: return ""
        }
    }
}
