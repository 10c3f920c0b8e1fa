import KubeAPI
import KubeClient

/// Mirror pods: how static pods appear in the API server (upstream kubelet's
/// `pkg/kubelet/pod/mirror_client.go`). A mirror pod is a copy of the static pod, bound to this
/// node, owned by its Node, and marked with `kubernetes.io/config.mirror` = the static pod's
/// hash. It is only a view: deleting it never stops the static pod; the agent makes it again.
enum MirrorPod {
    static let mirrorAnnotation = "kubernetes.io/config.mirror"
    static let hashAnnotation = "kubernetes.io/config.hash"
    static let sourceAnnotation = "kubernetes.io/config.source"

    /// A pod from the API server that mirrors a static pod (never run as a pod of its own).
    static func isMirror(_ pod: Pod) -> Bool { pod.metadata.annotations?[mirrorAnnotation] != nil }

    /// A pod that came from a file (its mirror, if any, lives in the API server).
    static func isStatic(_ pod: Pod) -> Bool {
        guard let source = pod.metadata.annotations?[sourceAnnotation] else { return false }
        return source != "api" && !isMirror(pod)
    }

    /// The static pod's hash (its UID, as kubelet's file source makes both from the content).
    static func hash(ofStatic pod: Pod) -> String { pod.metadata.annotations?[hashAnnotation] ?? pod.metadata.uid ?? "" }

    /// The name both the static pod and its mirror pod carry: `namespace/name`.
    static func key(_ pod: Pod) -> String { (pod.metadata.namespace ?? "default") + "/" + (pod.metadata.name ?? "") }

    /// The object to create for `staticPod`: its metadata without server-set fields, the mirror
    /// annotation, one controller ownerReference to the Node (no blockOwnerDeletion, which
    /// NodeRestriction refuses), `spec.nodeName`, and no status (the API server starts it Pending).
    static func object(for staticPod: Pod, nodeName: String, nodeUID: String) throws -> JSONValue {
        var body = try JSONValue.encoding(staticPod)
        var meta = body["metadata"] ?? .object([:])
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "selfLink", "managedFields", "ownerReferences", "generateName"] {
            meta[field] = nil
        }
        var annotations = meta["annotations"]?.objectValue ?? [:]
        annotations[mirrorAnnotation] = .string(hash(ofStatic: staticPod))
        meta["annotations"] = .object(annotations)
        meta["namespace"] = .string(staticPod.metadata.namespace ?? "default")
        meta["ownerReferences"] = .array([.object([
            "apiVersion": .string("v1"), "kind": .string("Node"), "name": .string(nodeName), "uid": .string(nodeUID),
            "controller": .bool(true),
        ])])
        body["metadata"] = meta
        var spec = body["spec"] ?? .object([:])
        spec["nodeName"] = .string(nodeName)
        body["spec"] = spec
        body["status"] = nil
        body["apiVersion"] = .string("v1")
        body["kind"] = .string("Pod")
        return body
    }
}

/// What the agent knows of one mirror pod in the API server.
struct MirrorRecord: Sendable, Equatable {
    var uid: String
    /// The `kubernetes.io/config.mirror` value: the hash of the static pod it was made from.
    var hash: String
    /// It has a deletionTimestamp (someone deleted it through the API).
    var deleting: Bool

    init(uid: String, hash: String, deleting: Bool) {
        self.uid = uid
        self.hash = hash
        self.deleting = deleting
    }

    init?(_ pod: Pod) {
        guard let uid = pod.metadata.uid, let hash = pod.metadata.annotations?[MirrorPod.mirrorAnnotation] else { return nil }
        self.init(uid: uid, hash: hash, deleting: pod.metadata.deletionTimestamp != nil)
    }
}

/// One step towards "every static pod has exactly one current mirror pod".
enum MirrorAction: Sendable, Equatable {
    /// Create the mirror of the static pod at this key.
    case create(key: String)
    /// Delete this mirror pod now (grace 0, UID precondition).
    case delete(key: String, uid: String)
}

/// The reconciliation kubelet's pod sync does for mirror pods, as a pure function: a missing
/// mirror is created; one being deleted or made from another hash is deleted and re-created;
/// a mirror with no static pod is deleted, but only once the static source has spoken (at
/// start-up an unread manifest directory must not cost the mirrors their pods' history).
enum MirrorPlan {
    static func actions(staticHashes: [String: String], mirrors: [String: MirrorRecord], staticsKnown: Bool) -> [MirrorAction] {
        var out: [MirrorAction] = []
        for key in staticHashes.keys.sorted() {
            guard let hash = staticHashes[key] else { continue }
            if let mirror = mirrors[key] {
                if mirror.deleting || mirror.hash != hash {
                    out.append(.delete(key: key, uid: mirror.uid))
                    out.append(.create(key: key))
                }
            } else {
                out.append(.create(key: key))
            }
        }
        if staticsKnown {
            for key in mirrors.keys.sorted() where staticHashes[key] == nil {
                if let mirror = mirrors[key] { out.append(.delete(key: key, uid: mirror.uid)) }
            }
        }
        return out
    }
}
