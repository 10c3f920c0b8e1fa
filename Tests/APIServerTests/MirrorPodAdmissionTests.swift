import Logging
import Testing

@testable import APIServer

/// What the server lets a node do with pods: create only mirror pods of its own (NodeRestriction),
/// admitted without a service account, left alone by the scheduler and by ReplicaSets.
@Suite struct MirrorPodAdmissionTests {
    static func node(_ name: String) -> RequestContext {
        RequestContext(user: UserInfo(name: "system:node:\(name)", groups: ["system:nodes", "system:authenticated"]))
    }

    /// Registers node `name` and returns its UID.
    static func register(_ f: RegistryFixture, _ name: String) throws -> String {
        try f.registry.create(ResourceRegistry.nodes, namespace: "", object: .lit(#"{"metadata":{"name":"\#(name)"}}"#), context: node(name)).uid
    }

    static func mirror(node: String, ownerUID: String, extraSpec: String = "", owner: String? = nil, annotation: Bool = true) -> JSON {
        let ann = annotation ? #""annotations":{"kubernetes.io/config.mirror":"abc","kubernetes.io/config.source":"file","kubernetes.io/config.hash":"abc"},"# : ""
        let ref = owner ?? #"{"apiVersion":"v1","kind":"Node","name":"\#(node)","uid":"\#(ownerUID)","controller":true}"#
        return .lit(#"""
            {"metadata":{"name":"web-\#(node)",\#(ann)"labels":{"app":"web"},"ownerReferences":[\#(ref)]},
             "spec":{"nodeName":"\#(node)","containers":[{"name":"c","image":"busybox"}]\#(extraSpec)}}
            """#)
    }

    func createError(_ f: RegistryFixture, _ pod: JSON, as nodeName: String) -> String? {
        do {
            _ = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: pod, context: Self.node(nodeName))
            return nil
        } catch let e as APIError {
            return "\(e.code) \(e.message)"
        } catch {
            return "\(error)"
        }
    }

    @Test func aNodeCreatesItsOwnMirrorPodWithoutAServiceAccount() throws {
        let f = try RegistryFixture()
        let uid = try Self.register(f, "n1")
        let pod = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: Self.mirror(node: "n1", ownerUID: uid),
                                        context: Self.node("n1"))
        #expect(pod.annotations["kubernetes.io/config.mirror"] == "abc")
        #expect(pod["spec"]?["serviceAccountName"] == nil)
        #expect(pod["status"]?["phase"]?.string == "Pending")
        // An ordinary pod still gets the default service account.
        let plain = try f.registry.create(ResourceRegistry.pods, namespace: "default",
                                          object: .lit(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#),
                                          context: RegistryFixture.admin)
        #expect(plain["spec"]?["serviceAccountName"]?.string == "default")
    }

    @Test func nodeRestrictionRefusesWhatUpstreamRefuses() throws {
        let f = try RegistryFixture()
        let uid = try Self.register(f, "n1")
        _ = try Self.register(f, "n2")
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, annotation: false), as: "n1")?.contains("can only create mirror pods") == true)
        #expect(createError(f, Self.mirror(node: "n2", ownerUID: uid), as: "n1")?.contains("spec.nodeName set to itself") == true)
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: "not-the-uid"), as: "n1")?.contains("UID mismatch") == true)
        let notController = #"{"apiVersion":"v1","kind":"Node","name":"n1","uid":"\#(uid)"}"#
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, owner: notController), as: "n1")?.contains("controller owner reference") == true)
        let blocking = #"{"apiVersion":"v1","kind":"Node","name":"n1","uid":"\#(uid)","controller":true,"blockOwnerDeletion":true}"#
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, owner: blocking), as: "n1")?.contains("blockOwnerDeletion") == true)
        let otherKind = #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"n1","uid":"\#(uid)","controller":true}"#
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, owner: otherKind), as: "n1")?.contains("owner reference set to itself") == true)
        let secret = #","volumes":[{"name":"s","secret":{"secretName":"top"}}]"#
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, extraSpec: secret), as: "n1")?.contains("reference secrets") == true)
        let cm = #","volumes":[{"name":"s","configMap":{"name":"cfg"}}]"#
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, extraSpec: cm), as: "n1")?.contains("reference configmaps") == true)
        #expect(createError(f, Self.mirror(node: "n1", ownerUID: uid, extraSpec: #","serviceAccountName":"default""#), as: "n1")?
            .contains("service account") == true)
        // Nothing of the above was stored.
        #expect(try f.registry.list(ResourceRegistry.pods, namespace: "default").isEmpty)
    }

    @Test func theMirrorAnnotationCannotBeAddedOrRemovedByAnUpdate() throws {
        let f = try RegistryFixture()
        let uid = try Self.register(f, "n1")
        var pod = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: Self.mirror(node: "n1", ownerUID: uid),
                                        context: Self.node("n1"))
        pod.setMeta("annotations", .obj(["kubernetes.io/config.source": "file"]))
        #expect(throws: APIError.self) {
            try f.registry.update(ResourceRegistry.pods, namespace: "default", name: pod.name, object: pod, context: RegistryFixture.admin)
        }
    }

    @Test func aNodeMayDeleteOnlyPodsBoundToIt() throws {
        let f = try RegistryFixture()
        let uid = try Self.register(f, "n1")
        _ = try Self.register(f, "n2")
        _ = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: Self.mirror(node: "n1", ownerUID: uid), context: Self.node("n1"))
        #expect(throws: APIError.self) {
            try f.registry.delete(ResourceRegistry.pods, namespace: "default", name: "web-n1", options: DeleteOptions(gracePeriodSeconds: 0),
                                  context: Self.node("n2"))
        }
        _ = try f.registry.delete(ResourceRegistry.pods, namespace: "default", name: "web-n1", options: DeleteOptions(gracePeriodSeconds: 0),
                                  context: Self.node("n1"))
        #expect(try f.registry.getIfPresent(ResourceRegistry.pods, namespace: "default", name: "web-n1") == nil)
    }

    @Test func replicaSetsAndTheSchedulerLeaveMirrorPodsAlone() async throws {
        let f = try RegistryFixture()
        let uid = try Self.register(f, "n1")
        let mirror = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: Self.mirror(node: "n1", ownerUID: uid),
                                           context: Self.node("n1"))
        #expect(!Scheduler.isPending(mirror))
        let rs = try f.registry.create(ResourceRegistry.replicasets, namespace: "default", object: .lit(#"""
            {"metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
             "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}
            """#), context: RegistryFixture.admin)
        let controller = ReplicaSetController(registry: f.registry, events: EventRecorder(registry: f.registry), logger: Logger(label: "test"))
        try await controller.sync("default/web")
        // The selector matches the mirror pod's labels, yet the ReplicaSet makes its own replica
        // and the mirror keeps its Node owner.
        let owned = try ReplicaSetController.ownedPods(f.registry, owner: rs)
        #expect(owned.count == 1 && owned.first?.name != mirror.name)
        let after = try f.registry.get(ResourceRegistry.pods, namespace: "default", name: mirror.name)
        #expect(after.ownerReferences.count == 1 && after.ownerReferences.first?["kind"]?.string == "Node")
    }
}
