/// The discovery documents kubectl and client libraries read to learn what is served:
/// `/version`, `/api`, `/apis`, per-group and per-version resource lists (legacy discovery),
/// and the aggregated `apidiscovery.k8s.io/v2` form newer clients ask for first.
struct Discovery: Sendable {
    let resources: ResourceRegistry

    /// The Kubernetes version we speak (kubectl picks its behaviour, and version-dispatching
    /// kubectl wrappers their binary, from it).
    static let major = "1"
    static let minor = "32"
    static let gitVersion = "v1.32.0+swiftlet"

    func version() -> JSON {
        .obj([
            "major": .string(Self.major), "minor": .string(Self.minor), "gitVersion": .string(Self.gitVersion),
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "swift6", "compiler": "swift", "platform": "linux/amd64",
        ])
    }

    func apiVersions(serverAddress: String) -> JSON {
        .obj([
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [.obj(["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)])],
        ])
    }

    func group(_ name: String) -> JSON {
        let gv = JSON.obj(["groupVersion": .string("\(name)/v1"), "version": "v1"])
        return .obj(["name": .string(name), "versions": [gv], "preferredVersion": gv])
    }

    func apiGroupList() -> JSON {
        .obj(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(resources.groups.map { group($0) })])
    }

    func apiGroup(_ name: String) -> JSON? {
        guard resources.groups.contains(name) else { return nil }
        var g = group(name)
        g["kind"] = "APIGroup"
        g["apiVersion"] = "v1"
        return g
    }

    static func verbs(_ r: ResourceType) -> [String] {
        r.storageKey == "namespaces" ? ["create", "delete", "get", "list", "patch", "update", "watch"] : ResourceType.allVerbs
    }

    /// The kind a subresource answers with, and its group/version when not the parent's.
    static func subresourceKind(_ r: ResourceType, _ sub: String) -> (group: String?, version: String?, kind: String) {
        switch sub {
        case "binding": return (nil, nil, "Binding")
        case "exec": return (nil, nil, "PodExecOptions")
        case "attach": return (nil, nil, "PodAttachOptions")
        case "portforward": return (nil, nil, "PodPortForwardOptions")
        case "eviction": return ("policy", "v1", "Eviction")
        case "scale": return ("autoscaling", "v1", "Scale")
        default: return (nil, nil, r.kind)
        }
    }

    func resourceList(group: String, version: String) -> JSON? {
        let rs = resources.resources(group: group, version: version)
        guard !rs.isEmpty else { return nil }
        var items: [JSON] = []
        for r in rs {
            var o = JSONObject()
            o["name"] = .string(r.plural)
            o["singularName"] = .string(r.singular)
            o["namespaced"] = .bool(r.namespaced)
            o["kind"] = .string(r.kind)
            o["verbs"] = .array(Self.verbs(r).map { .string($0) })
            if !r.shortNames.isEmpty { o["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { o["categories"] = .array(r.categories.map { .string($0) }) }
            items.append(.object(o))
            for sub in r.subresources.keys.sorted() {
                let k = Self.subresourceKind(r, sub)
                var s = JSONObject()
                s["name"] = .string("\(r.plural)/\(sub)")
                s["singularName"] = ""
                s["namespaced"] = .bool(r.namespaced)
                if let g = k.group { s["group"] = .string(g) }
                if let v = k.version { s["version"] = .string(v) }
                s["kind"] = .string(k.kind)
                s["verbs"] = .array((r.subresources[sub] ?? []).map { .string($0) })
                items.append(.object(s))
            }
        }
        return .obj([
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(items),
        ])
    }

    // MARK: aggregated discovery (apidiscovery.k8s.io/v2)

    func aggregated(legacy: Bool) -> JSON {
        let groups = legacy ? [""] : resources.groups
        var items: [JSON] = []
        for g in groups {
            var resList: [JSON] = []
            for r in resources.resources(group: g, version: "v1") {
                var o = JSONObject()
                o["resource"] = .string(r.plural)
                o["responseKind"] = .obj(["group": .string(r.group), "version": "v1", "kind": .string(r.kind)])
                o["scope"] = r.namespaced ? "Namespaced" : "Cluster"
                o["singularResource"] = .string(r.singular)
                o["verbs"] = .array(Self.verbs(r).map { .string($0) })
                if !r.shortNames.isEmpty { o["shortNames"] = .array(r.shortNames.map { .string($0) }) }
                if !r.categories.isEmpty { o["categories"] = .array(r.categories.map { .string($0) }) }
                var subs: [JSON] = []
                for sub in r.subresources.keys.sorted() {
                    let k = Self.subresourceKind(r, sub)
                    subs.append(.obj([
                        "subresource": .string(sub),
                        "responseKind": .obj(["group": .string(k.group ?? r.group), "version": .string(k.version ?? "v1"), "kind": .string(k.kind)]),
                        "verbs": .array((r.subresources[sub] ?? []).map { .string($0) }),
                    ]))
                }
                if !subs.isEmpty { o["subresources"] = .array(subs) }
                resList.append(.object(o))
            }
            items.append(.obj([
                "metadata": .obj(["name": .string(g), "creationTimestamp": nil]),
                "versions": [.obj(["version": "v1", "resources": .array(resList), "freshness": "Current"])],
            ]))
        }
        return .obj(["kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": .obj([:]), "items": .array(items)])
    }
}
