import Synchronization

/// Request counters served on `/metrics` in the Prometheus text format (0.0.4):
/// `apiserver_request_total` with upstream's labels, and
/// `swiftlet_apiserver_mutating_requests_total` by authenticated user, so an operator can see
/// what each node writes (a quiet node writes one Lease renewal per 10 s and nothing else).
final class RequestMetrics: Sendable {
    struct Key: Hashable, Comparable {
        var verb: String
        var group: String
        var version: String
        var resource: String
        var subresource: String
        var code: Int

        static func < (a: Key, b: Key) -> Bool {
            (a.group, a.version, a.resource, a.subresource, a.verb, a.code) < (b.group, b.version, b.resource, b.subresource, b.verb, b.code)
        }
    }

    struct WriteKey: Hashable, Comparable {
        var user: String
        var verb: String
        var resource: String
        var subresource: String

        static func < (a: WriteKey, b: WriteKey) -> Bool {
            (a.user, a.resource, a.subresource, a.verb) < (b.user, b.resource, b.subresource, b.verb)
        }
    }

    private struct Counts {
        var requests: [Key: UInt64] = [:]
        var writes: [WriteKey: UInt64] = [:]
    }

    private let counts = Mutex(Counts())

    /// Upstream's reported verb: LIST and WATCH apart from GET, APPLY for server-side apply,
    /// CONNECT for proxied subresources.
    static func reportedVerb(_ info: RequestInfo, contentType: String) -> String {
        switch info.verb {
        case "get": return "GET"
        case "list": return "LIST"
        case "watch": return "WATCH"
        case "create": return "POST"
        case "update": return "PUT"
        case "patch": return contentType.contains("apply-patch") ? "APPLY" : "PATCH"
        case "delete", "deletecollection": return "DELETE"
        default: return info.verb.uppercased()
        }
    }

    static func isMutating(_ verb: String) -> Bool { ["POST", "PUT", "PATCH", "APPLY", "DELETE"].contains(verb) }

    /// Counts one resource request once its status code is known. Dry runs are counted as
    /// requests but not as writes (nothing was stored).
    func record(_ info: RequestInfo, user: String, contentType: String, code: Int, dryRun: Bool) {
        var verb = Self.reportedVerb(info, contentType: contentType)
        if ["exec", "attach", "portforward", "proxy"].contains(info.subresource) { verb = "CONNECT" }  // pods/log stays GET, as upstream
        let key = Key(verb: verb, group: info.group, version: info.version, resource: info.resource, subresource: info.subresource, code: code)
        let write = Self.isMutating(verb) && !dryRun
            ? WriteKey(user: user, verb: verb, resource: info.resource, subresource: info.subresource) : nil
        counts.withLock { c in
            c.requests[key, default: 0] += 1
            if let write { c.writes[write, default: 0] += 1 }
        }
    }

    /// The exposition text.
    func render() -> String {
        let c = counts.withLock { $0 }
        var out = "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, version, resource, subresource and HTTP response code.\n"
        out += "# TYPE apiserver_request_total counter\n"
        for (k, v) in c.requests.sorted(by: { $0.key < $1.key }) {
            out += "apiserver_request_total{code=\"\(k.code)\",component=\"apiserver\",group=\"\(Self.escape(k.group))\",resource=\"\(Self.escape(k.resource))\","
            out += "subresource=\"\(Self.escape(k.subresource))\",verb=\"\(k.verb)\",version=\"\(Self.escape(k.version))\"} \(v)\n"
        }
        out += "# HELP swiftlet_apiserver_mutating_requests_total Counter of write requests (POST, PUT, PATCH, APPLY, DELETE; dry runs excluded) by authenticated user, resource and subresource, whatever their outcome.\n"
        out += "# TYPE swiftlet_apiserver_mutating_requests_total counter\n"
        for (k, v) in c.writes.sorted(by: { $0.key < $1.key }) {
            out += "swiftlet_apiserver_mutating_requests_total{resource=\"\(Self.escape(k.resource))\",subresource=\"\(Self.escape(k.subresource))\","
            out += "user=\"\(Self.escape(k.user))\",verb=\"\(k.verb)\"} \(v)\n"
        }
        return out
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return s }
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
