import Foundation
import KubeAPI
import Testing

@testable import Kubelet

/// The pure parts of mirror pods: the static pod hash, the object the agent creates, and the
/// plan that keeps one current mirror per static pod.
@Suite struct MirrorPodTests {
    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          containers: [{name: c, image: "test.local/busybox:1", command: ["sleep", "1000"]}]
        """

    func hash(_ yaml: String, node: String = "n1", path: String = "/etc/kubernetes/manifests/web.yaml") throws -> String {
        StaticPodSource.hash(document: try Manifest.documents(yaml)[0], nodeName: node, path: path)
    }

    @Test func theHashFollowsContentNotFormatting() throws {
        let base = try hash(Self.manifest)
        #expect(base.count == 32)
        let reformatted = """
            # the same pod, written differently
            kind: Pod
            apiVersion: v1
            spec:
              containers:
              - command: [sleep, "1000"]
                image: test.local/busybox:1
                name: c
            metadata:
              labels:
                app: web
              name: web
            """
        #expect(try hash(reformatted) == base)
        #expect(try hash(Self.manifest.replacingOccurrences(of: "1000", with: "2000")) != base)
        #expect(try hash(Self.manifest, node: "n2") != base)
        #expect(try hash(Self.manifest, path: "/etc/kubernetes/manifests/other.yaml") != base)
    }

    func staticPod(hash: String = "h1") -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: "web-n1", namespace: "default", uid: hash),
                      spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))
        pod.metadata.resourceVersion = "12"
        pod.metadata.annotations = ["kubernetes.io/config.source": "file", "kubernetes.io/config.hash": hash, "kubernetes.io/config.seen": "x"]
        pod.metadata.labels = ["app": "web"]
        pod.spec.nodeName = "n1"
        pod.status = PodStatus()
        pod.status?.phase = "Running"
        return pod
    }

    @Test func theMirrorObjectIsMarkedOwnedAndBound() throws {
        let pod = staticPod()
        #expect(MirrorPod.isStatic(pod) && !MirrorPod.isMirror(pod))
        let object = try MirrorPod.object(for: pod, nodeName: "n1", nodeUID: "node-uid")
        let meta = object["metadata"]
        #expect(meta?["name"]?.stringValue == "web-n1")
        #expect(meta?["namespace"]?.stringValue == "default")
        #expect(meta?["uid"] == nil && meta?["resourceVersion"] == nil)
        #expect(meta?["annotations"]?["kubernetes.io/config.mirror"]?.stringValue == "h1")
        #expect(meta?["annotations"]?["kubernetes.io/config.hash"]?.stringValue == "h1")
        #expect(meta?["annotations"]?["kubernetes.io/config.source"]?.stringValue == "file")
        #expect(meta?["labels"]?["app"]?.stringValue == "web")
        let owners = meta?["ownerReferences"]?.arrayValue ?? []
        #expect(owners.count == 1)
        #expect(owners.first?["kind"]?.stringValue == "Node" && owners.first?["apiVersion"]?.stringValue == "v1")
        #expect(owners.first?["name"]?.stringValue == "n1" && owners.first?["uid"]?.stringValue == "node-uid")
        #expect(owners.first?["controller"]?.boolValue == true && owners.first?["blockOwnerDeletion"] == nil)
        #expect(object["spec"]?["nodeName"]?.stringValue == "n1")
        #expect(object["status"] == nil)
        // What the API server sends back is recognised as a mirror, never as a static pod.
        var back = try object.decoded(as: Pod.self)
        #expect(MirrorPod.isMirror(back) && !MirrorPod.isStatic(back))
        #expect(MirrorRecord(back) == nil)  // not stored yet: no UID
        back.metadata.uid = "m1"
        #expect(MirrorRecord(back) == MirrorRecord(uid: "m1", hash: "h1", deleting: false))
    }

    @Test func thePlanCreatesReplacesAndDeletes() {
        let current = MirrorRecord(uid: "m1", hash: "h1", deleting: false)
        // Missing: created.
        #expect(MirrorPlan.actions(staticHashes: ["default/web-n1": "h1"], mirrors: [:], staticsKnown: true) == [.create(key: "default/web-n1")])
        // Current: nothing to do.
        #expect(MirrorPlan.actions(staticHashes: ["default/web-n1": "h1"], mirrors: ["default/web-n1": current], staticsKnown: true).isEmpty)
        // Deleted through the API: deleted for good, then made again.
        var deleting = current
        deleting.deleting = true
        #expect(MirrorPlan.actions(staticHashes: ["default/web-n1": "h1"], mirrors: ["default/web-n1": deleting], staticsKnown: true)
            == [.delete(key: "default/web-n1", uid: "m1"), .create(key: "default/web-n1")])
        // The manifest changed: replaced.
        #expect(MirrorPlan.actions(staticHashes: ["default/web-n1": "h2"], mirrors: ["default/web-n1": current], staticsKnown: true)
            == [.delete(key: "default/web-n1", uid: "m1"), .create(key: "default/web-n1")])
        // The manifest is gone: deleted, but not before the manifest directory was read once.
        #expect(MirrorPlan.actions(staticHashes: [:], mirrors: ["default/web-n1": current], staticsKnown: true)
            == [.delete(key: "default/web-n1", uid: "m1")])
        #expect(MirrorPlan.actions(staticHashes: [:], mirrors: ["default/web-n1": current], staticsKnown: false).isEmpty)
    }
}
