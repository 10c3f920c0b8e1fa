import Foundation
import NIOHTTP1

/// A list `continue` token: where the next page starts and the resourceVersion of the first.
struct ContinueToken: Equatable {
    var rv: Int64
    var namespace: String
    var name: String

    var encoded: String {
        let json = JSON.obj(["v": "meta.k8s.io/v1", "rv": .int(rv), "ns": .string(namespace), "start": .string(name)])
        return Data(json.serialized()).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init(rv: Int64, namespace: String, name: String) {
        self.rv = rv
        self.namespace = namespace
        self.name = name
    }

    init(decoding s: String) throws(APIError) {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard let data = Data(base64Encoded: b), let j = try? JSON.parse(Array(data)), let rv = j["rv"]?.int,
              let name = j["start"]?.string
        else {
            throw APIError.badRequest("continue key is not valid: illegal base64 data or JSON")
        }
        self.rv = rv
        namespace = j["ns"]?.string ?? ""
        self.name = name
    }
}

extension APIHandler {
    func get(_ r: ResourceType, _ ns: String, _ name: String, _ req: HTTPRequest) throws -> HTTPResponse {
        let obj = try registry.get(r, namespace: ns, name: name)
        return objectResponse(r, obj, req)
    }

    /// The selectors of a list or watch request, validated as upstream does.
    func selectors(_ r: ResourceType, _ req: HTTPRequest) throws -> (LabelSelector?, FieldSelector?) {
        var labels: LabelSelector?
        if let l = req.param("labelSelector"), !l.isEmpty { labels = try LabelSelector(parsing: l) }
        var fields: FieldSelector?
        if let f = req.param("fieldSelector"), !f.isEmpty {
            let fs = try FieldSelector(parsing: f)
            try fs.validate(kind: r.kind, apiVersion: r.apiVersion)
            fields = fs
        }
        return (labels, fields)
    }

    /// A cheap byte-level test that rejects rows a pinned field cannot match before decoding.
    static func prefilter(_ fields: FieldSelector?) -> (([UInt8]) -> Bool)? {
        guard let fields else { return nil }
        var needles: [[UInt8]] = []
        if let node = fields.pinned("spec.nodeName"), !node.isEmpty { needles.append(Array("\"nodeName\":\(JSON.string(node).text)".utf8)) }
        if let name = fields.pinned("metadata.name"), !name.isEmpty { needles.append(Array("\"name\":\(JSON.string(name).text)".utf8)) }
        guard !needles.isEmpty else { return nil }
        return { bytes in needles.allSatisfy { bytes.contains(subsequence: $0) } }
    }

    func list(_ r: ResourceType, _ ns: String, _ req: HTTPRequest) throws -> HTTPResponse {
        let (labels, fields) = try selectors(r, req)
        var limit: Int?
        if let l = req.param("limit"), let n = Int(l), n > 0 { limit = n }
        var after: (String, String)?
        var tokenRV: Int64?
        if let c = req.param("continue"), !c.isEmpty {
            let t = try ContinueToken(decoding: c)
            after = (t.namespace, t.name)
            tokenRV = t.rv
        }
        let pre = Self.prefilter(fields)
        let needsDecode = labels != nil || fields != nil
        let page = try registry.store.list(
            resource: r.storageKey, namespace: r.namespaced && !ns.isEmpty ? ns : nil, after: after, limit: limit,
            filter: needsDecode ? { bytes in
                if let pre, !pre(bytes) { return false }
                guard let obj = try? JSON.parse(bytes) else { return false }
                if let labels, !labels.matches(obj.labels) { return false }
                if let fields, !fields.matches(obj) { return false }
                return true
            } : nil)
        let rv = String(tokenRV ?? page.rv)
        let token = page.nextAfter.map { ContinueToken(rv: tokenRV ?? page.rv, namespace: $0.namespace, name: $0.name).encoded }

        if wantsTable(req) {
            let include = req.param("includeObject") ?? "Metadata"
            let now = Date()
            var rows: [JSON] = []
            rows.reserveCapacity(page.items.count)
            for bytes in page.items { rows.append(Tables.row(r, try JSON.parse(bytes), includeObject: include, now: now)) }
            let t = Tables.table(r, rows: rows, resourceVersion: rv, continueToken: token)
            return .full(.ok, ["Content-Type": Self.tableContentType], t.serialized())
        }
        // Items are spliced as stored: no decode and re-encode of every object.
        var out: [UInt8] = []
        out.reserveCapacity(page.items.reduce(256) { $0 + $1.count + 1 })
        out.append(contentsOf: Array("{\"kind\":\"\(r.kind)List\",\"apiVersion\":\"\(r.apiVersion)\",\"metadata\":{\"resourceVersion\":\"\(rv)\"".utf8))
        if let token { out.append(contentsOf: Array(",\"continue\":\"\(token)\"".utf8)) }
        out.append(contentsOf: Array("},\"items\":[".utf8))
        for (i, item) in page.items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item)
        }
        out.append(contentsOf: Array("]}".utf8))
        return .full(.ok, ["Content-Type": "application/json"], out)
    }
}
