/// One served resource, as discovery describes it and as storage keys it.
public struct ResourceType: Sendable, Hashable {
    public let group: String
    public let version: String
    public let plural: String
    public let singular: String
    public let kind: String
    public let namespaced: Bool
    public let shortNames: [String]
    public let categories: [String]
    /// Subresources served under `<name>/<sub>`, with the verbs each answers.
    public let subresources: [String: [String]]

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The storage and watch key: "pods", "deployments.apps".
    public var storageKey: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// How upstream writes the resource in messages: "pods", "deployments.apps".
    public var qualifiedName: String { storageKey }

    public static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    public var verbs: [String] { Self.allVerbs }
}

/// The resources this server serves. A value, not a global, so tests and embedders can see it.
public struct ResourceRegistry: Sendable {
    public let all: [ResourceType]

    public static let standard = ResourceRegistry(all: [
        ResourceType(group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace",
                     namespaced: false, shortNames: ["ns"], categories: [],
                     subresources: ["status": ["get", "patch", "update"], "finalize": ["update"]]),
        ResourceType(group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod",
                     namespaced: true, shortNames: ["po"], categories: ["all"],
                     subresources: ["status": ["get", "patch", "update"], "binding": ["create"],
                                    "log": ["get"], "exec": ["create", "get"], "attach": ["create", "get"],
                                    "portforward": ["create", "get"], "eviction": ["create"]]),
        ResourceType(group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node",
                     namespaced: false, shortNames: ["no"], categories: [],
                     subresources: ["status": ["get", "patch", "update"]]),
        ResourceType(group: "", version: "v1", plural: "services", singular: "service", kind: "Service",
                     namespaced: true, shortNames: ["svc"], categories: ["all"],
                     subresources: ["status": ["get", "patch", "update"]]),
        ResourceType(group: "", version: "v1", plural: "endpoints", singular: "endpoints", kind: "Endpoints",
                     namespaced: true, shortNames: ["ep"], categories: [], subresources: [:]),
        ResourceType(group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap",
                     namespaced: true, shortNames: ["cm"], categories: [], subresources: [:]),
        ResourceType(group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret",
                     namespaced: true, shortNames: [], categories: [], subresources: [:]),
        ResourceType(group: "", version: "v1", plural: "events", singular: "event", kind: "Event",
                     namespaced: true, shortNames: ["ev"], categories: [], subresources: [:]),
        ResourceType(group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount",
                     namespaced: true, shortNames: ["sa"], categories: [], subresources: [:]),
        ResourceType(group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment",
                     namespaced: true, shortNames: ["deploy"], categories: ["all"],
                     subresources: ["status": ["get", "patch", "update"], "scale": ["get", "patch", "update"]]),
        ResourceType(group: "apps", version: "v1", plural: "replicasets", singular: "replicaset", kind: "ReplicaSet",
                     namespaced: true, shortNames: ["rs"], categories: ["all"],
                     subresources: ["status": ["get", "patch", "update"], "scale": ["get", "patch", "update"]]),
        ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease",
                     namespaced: true, shortNames: [], categories: [], subresources: [:]),
        ResourceType(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice",
                     kind: "EndpointSlice", namespaced: true, shortNames: [], categories: [], subresources: [:]),
        ResourceType(group: "certificates.k8s.io", version: "v1", plural: "certificatesigningrequests", singular: "certificatesigningrequest",
                     kind: "CertificateSigningRequest", namespaced: false, shortNames: ["csr"], categories: [],
                     subresources: ["status": ["get", "patch", "update"], "approval": ["get", "patch", "update"]]),
    ])

    public var groups: [String] {
        var seen: [String] = []
        for r in all where !r.group.isEmpty && !seen.contains(r.group) { seen.append(r.group) }
        return seen
    }

    public func resources(group: String, version: String) -> [ResourceType] {
        all.filter { $0.group == group && $0.version == version }
    }

    public func find(group: String, version: String, plural: String) -> ResourceType? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    public func byKind(_ kind: String, apiVersion: String) -> ResourceType? {
        all.first { $0.kind == kind && $0.apiVersion == apiVersion }
    }

    public func byStorageKey(_ key: String) -> ResourceType? { all.first { $0.storageKey == key } }

    public static let pods = standard.byStorageKey("pods")!
    public static let nodes = standard.byStorageKey("nodes")!
    public static let namespaces = standard.byStorageKey("namespaces")!
    public static let services = standard.byStorageKey("services")!
    public static let endpoints = standard.byStorageKey("endpoints")!
    public static let events = standard.byStorageKey("events")!
    public static let configmaps = standard.byStorageKey("configmaps")!
    public static let secrets = standard.byStorageKey("secrets")!
    public static let serviceaccounts = standard.byStorageKey("serviceaccounts")!
    public static let deployments = standard.byStorageKey("deployments.apps")!
    public static let replicasets = standard.byStorageKey("replicasets.apps")!
    public static let leases = standard.byStorageKey("leases.coordination.k8s.io")!
    public static let endpointslices = standard.byStorageKey("endpointslices.discovery.k8s.io")!
    public static let csrs = standard.byStorageKey("certificatesigningrequests.certificates.k8s.io")!
}
