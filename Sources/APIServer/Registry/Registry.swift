import Foundation
import Logging

/// Who is asking and how, carried from the HTTP layer (or an in-process controller) to the
/// registry so that admission sees the same facts for both.
public struct RequestContext: Sendable {
    public var user: UserInfo
    public var dryRun: Bool
    /// `Strict`, `Warn` or `Ignore` (upstream's `fieldValidation` query parameter).
    public var fieldValidation: String

    public init(user: UserInfo, dryRun: Bool = false, fieldValidation: String = "") {
        self.user = user
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
    }

    public static let controllers = RequestContext(user: .controllers)
}

/// The semantics of the API on top of raw storage: metadata management, defaulting,
/// validation, admission, preconditions, graceful deletion and finalizers. HTTP handlers and
/// controllers both go through it, so a controller write is checked like a client's.
public final class Registry: Sendable {
    public let store: Store
    public let resources: ResourceRegistry
    let allocator: ServiceAllocator
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(store: Store, resources: ResourceRegistry = .standard, allocator: ServiceAllocator, logger: Logger,
                clock: @escaping @Sendable () -> Date = { Date() })
    {
        self.store = store
        self.resources = resources
        self.allocator = allocator
        self.logger = logger
        self.clock = clock
    }

    func key(_ r: ResourceType, _ namespace: String, _ name: String) -> ObjectKey {
        ObjectKey(r.storageKey, r.namespaced ? namespace : "", name)
    }

    public func get(_ r: ResourceType, namespace: String, name: String) throws -> JSON {
        guard let obj = try store.get(key(r, namespace, name)) else { throw APIError.notFound(r, name) }
        return obj
    }

    public func getIfPresent(_ r: ResourceType, namespace: String, name: String) throws -> JSON? {
        try store.get(key(r, namespace, name))
    }

    /// Decoded objects of one resource (optionally one namespace) that pass the selectors.
    /// `prefilter` may reject raw bytes before decoding (cheap substring checks).
    public func list(
        _ r: ResourceType, namespace: String?, labels: LabelSelector? = nil, fields: FieldSelector? = nil,
        prefilter: (([UInt8]) -> Bool)? = nil
    ) throws -> [JSON] {
        let ns = r.namespaced ? namespace : nil
        let page = try store.list(resource: r.storageKey, namespace: ns, filter: prefilter)
        var out: [JSON] = []
        out.reserveCapacity(page.items.count)
        for bytes in page.items {
            let obj = try JSON.parse(bytes)
            if let labels, !labels.matches(obj.labels) { continue }
            if let fields, !fields.matches(obj) { continue }
            out.append(obj)
        }
        return out
    }

    // MARK: shared checks

    /// Sets `kind`/`apiVersion` when absent and rejects a body of another kind (400 as upstream).
    func checkKind(_ r: ResourceType, _ obj: inout JSON) throws(APIError) {
        guard case .object = obj else { throw APIError.badRequest("the body of the request was not a JSON object") }
        let kind = obj.kind, apiVersion = obj.apiVersion
        if !kind.isEmpty, kind != r.kind {
            throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(r.apiVersion)) or kind \(kind) is not \(r.kind)")
        }
        if !apiVersion.isEmpty, apiVersion != r.apiVersion {
            throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(r.apiVersion))")
        }
        if case .object = obj["metadata"] {} else if obj["metadata"] != nil, obj["metadata"] != .null {
            throw APIError.badRequest("metadata: must be an object")
        }
        obj = Self.withTypeFirst(obj, kind: r.kind, apiVersion: r.apiVersion)
    }

    /// Puts `kind`, `apiVersion`, `metadata` first, the order upstream serializes them in.
    static func withTypeFirst(_ obj: JSON, kind: String, apiVersion: String) -> JSON {
        guard case .object(let o) = obj else { return obj }
        if o.keys.count >= 2, o.keys[0] == "kind", o.keys[1] == "apiVersion", o["kind"]?.string == kind,
           o["apiVersion"]?.string == apiVersion
        {
            return obj
        }
        var out = JSONObject()
        out["kind"] = .string(kind)
        out["apiVersion"] = .string(apiVersion)
        out["metadata"] = o["metadata"] ?? .object(JSONObject())
        for (k, v) in o where k != "kind" && k != "apiVersion" && k != "metadata" { out[k] = v }
        return .object(out)
    }

    /// The namespace must exist and not be terminating before content is created in it.
    func requireNamespace(_ namespace: String, for r: ResourceType, name: String) throws {
        guard let ns = try store.get(ObjectKey("namespaces", "", namespace)) else {
            throw APIError.notFound(ResourceRegistry.namespaces, namespace)
        }
        if ns.deletionTimestamp != nil || ns["status"]?["phase"]?.string == "Terminating" {
            throw APIError.forbidden(r, name, "unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }

    /// Upstream's metadata key order, so served objects read like kube-apiserver's.
    static let metadataOrder = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
        "managedFields",
    ]

    static func normalizeMetadata(_ obj: inout JSON) {
        guard case .object(let m)? = obj["metadata"] else { return }
        var out = JSONObject()
        for k in metadataOrder { if let v = m[k], v != .null { out[k] = v } }
        for (k, v) in m where out[k] == nil && !metadataOrder.contains(k) { out[k] = v }
        obj["metadata"] = .object(out)
    }

    var now: String { Timestamp.format(clock()) }
}
