import Foundation
import Glibc
import Testing

/// Static pods in API mode, with `swiftlet apiserver` and `swiftlet agent --kubeconfig
/// --pod-manifest-path` as separate processes and the real kubectl: each static pod gets a
/// mirror pod (`<name>-<node>`, owned by the Node, annotated with the pod's hash) that shows its
/// status; deleting the mirror through the API brings it back without touching the container;
/// a changed manifest replaces it; a removed manifest takes mirror and container away.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct MirrorPodSlowRootTests {
    static func manifest(label: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web, rev: "\(label)"}}
        spec:
          terminationGracePeriodSeconds: 1
          containers: [{name: c, image: "test.local/busybox:1", command: ["sleep", "4321"]}]
        """
    }

    @Test func mirrorPodsFollowStaticPods() async throws {
        let h = try AgentHarness()
        var apiserver: Process?
        do {
            let (nodeIP, third, server, process) = try await h.startAPIServerOnNodeAddress()
            apiserver = process
            try h.writeManifest("web.yaml", Self.manifest(label: "1"))
            try h.startJoinedAgent(name: "n1", nodeIP: nodeIP, server: server, podCIDR: "10.92.\(third).0/24",
                                   extra: ["--pod-manifest-path", h.manifests])
            @Sendable func field(_ path: String) -> String? { h.kubectl(["get", "pod", "web-n1", "-o", "jsonpath={\(path)}"]) }

            // The mirror pod appears, Running, with upstream's annotations and owner.
            #expect(await h.eventually(60) { field(".status.phase") == "Running" }, "agent log:\n\(h.tail(h.agentLog))")
            let hash = field(".metadata.annotations.kubernetes\\.io/config\\.hash") ?? ""
            #expect(hash.count == 32)
            #expect(field(".metadata.annotations.kubernetes\\.io/config\\.mirror") == hash)
            #expect(field(".metadata.annotations.kubernetes\\.io/config\\.source") == "file")
            let nodeUID = h.kubectl(["get", "node", "n1", "-o", "jsonpath={.metadata.uid}"]) ?? "?"
            #expect(field(".metadata.ownerReferences[0].kind") == "Node")
            #expect(field(".metadata.ownerReferences[0].uid") == nodeUID)
            #expect(field(".metadata.ownerReferences[0].controller") == "true")
            #expect(field(".spec.nodeName") == "n1")
            #expect(h.kubectl(["get", "pods", "--no-headers"])?.contains("web-n1") == true)
            let firstUID = field(".metadata.uid") ?? ""
            let containerID = field(".status.containerStatuses[0].containerID") ?? ""
            #expect(containerID.hasPrefix("swiftlet://"))
            let pids = h.processes(commandLine: "sleep 4321")
            #expect(pids.count == 1)

            // The agent restarts: it adopts the mirror it made (same object), nothing restarts.
            h.killAgent()
            try h.startJoinedAgent(name: "n1", nodeIP: nodeIP, server: server, podCIDR: "10.92.\(third).0/24",
                                   extra: ["--pod-manifest-path", h.manifests])
            // The log is appended to: the second "ready:" line is the restarted agent's.
            #expect(await h.eventually(30) { h.tail(h.agentLog, 2000).components(separatedBy: "swiftlet.agent: ready: ").count >= 3 })
            try await Task.sleep(nanoseconds: 2_000_000_000)
            #expect(field(".metadata.uid") == firstUID)
            #expect(field(".status.phase") == "Running")
            #expect(field(".status.containerStatuses[0].containerID") == containerID)
            #expect(h.processes(commandLine: "sleep 4321") == pids)

            // Deleted through the API: it comes back (a new object), the container untouched.
            #expect(h.kubectl(["delete", "pod", "web-n1", "--wait=true", "--timeout=20s"]) != nil)
            #expect(await h.eventually(30) {
                let uid = field(".metadata.uid") ?? ""
                return !uid.isEmpty && uid != firstUID && field(".status.phase") == "Running"
            }, "agent log:\n\(h.tail(h.agentLog))")
            #expect(field(".status.containerStatuses[0].containerID") == containerID)
            #expect(field(".status.containerStatuses[0].restartCount") == "0")
            #expect(h.processes(commandLine: "sleep 4321") == pids)

            // The manifest changes: a new hash, the mirror pod replaced.
            let secondUID = field(".metadata.uid") ?? ""
            try h.writeManifest("web.yaml", Self.manifest(label: "2"))
            #expect(await h.eventually(30) {
                field(".metadata.labels.rev") == "2" && field(".metadata.uid") != secondUID && field(".status.phase") == "Running"
            }, "agent log:\n\(h.tail(h.agentLog))")
            let newHash = field(".metadata.annotations.kubernetes\\.io/config\\.mirror") ?? ""
            #expect(!newHash.isEmpty && newHash != hash)
            #expect(field(".metadata.annotations.kubernetes\\.io/config\\.hash") == newHash)

            // The manifest is removed: the mirror pod goes, and so does the container.
            h.removeManifest("web.yaml")
            #expect(await h.eventually(30) {
                let names = h.kubectl(["get", "pods", "-o", "name"])
                return names != nil && names?.contains("web-n1") == false && h.processes(commandLine: "sleep 4321").isEmpty
            }, "agent log:\n\(h.tail(h.agentLog))")
        } catch {
            Issue.record(error)
        }
        h.stop(apiserver)
        await h.tearDown()
    }
}
