import Foundation
import KubeAPI
import KubeClient
import Testing

@testable import APIServer

/// The node agent's own client (KubeClient) against the server, with a node identity issued
/// by `issue-node-kubeconfig`: what a kubelet does at registration and in its loops.
@Suite(.serialized)
struct AgentClientSlowTests {
    @Test func nodeAgentRegistersHeartbeatsAndWatchesItsPods() async throws {
        try await withAPIServer { ep, dir in
            let kc = dir + "/node-a.kubeconfig"
            try DataDirectory(dir).issueNodeKubeconfig(nodeName: "node-a", server: ep.url, out: kc)
            let client = try KubeClient(config: try KubeConfig.load(kc))
            let now = Timestamp.now()
            do {
                // Registration and heartbeat, as the kubelet does them.
                _ = try await client.create("/api/v1/nodes", .object([
                    "metadata": .object(["name": .string("node-a")]),
                    "status": .object(["conditions": .array([.object([
                        "type": .string("Ready"), "status": .string("True"), "reason": .string("KubeletReady"),
                        "lastHeartbeatTime": .string(now), "lastTransitionTime": .string(now),
                    ])])]),
                ]))
                let lease = try await client.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", .object([
                    "metadata": .object(["name": .string("node-a")]),
                    "spec": .object(["holderIdentity": .string("node-a"), "leaseDurationSeconds": .int(40),
                                     "renewTime": .string(Timestamp.formatMicro(Date()))]),
                ]))
                #expect(lease["metadata"]?["resourceVersion"]?.stringValue?.isEmpty == false)
                // Another node's objects are out of reach.
                await #expect(throws: KubeAPIError.self) {
                    _ = try await client.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", .object([
                        "metadata": .object(["name": .string("node-b")]),
                    ]))
                }

                // The pods bound to this node, listed then watched by field selector.
                let (items, rv) = try await client.list("/api/v1/pods", fieldSelector: "spec.nodeName=node-a")
                #expect(items.isEmpty)
                let events = client.watch("/api/v1/pods", resourceVersion: rv, fieldSelector: "spec.nodeName=node-a", timeoutSeconds: 120)
                let admin = Kubectl(ep, dir: dir)
                #expect(try await admin("create", "-f", "-", stdin: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: mine}
                    spec: {nodeName: node-a, containers: [{name: c, image: example.local/x:1}]}
                    """).ok)
                #expect(try await admin("create", "-f", "-", stdin: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: theirs}
                    spec: {nodeName: node-b, containers: [{name: c, image: example.local/x:1}]}
                    """).ok)
                var seen: [String] = []
                for try await e in events {
                    seen.append("\(e.type) \(e.object["metadata"]?["name"]?.stringValue ?? "")")
                    if seen.count == 1 { break }
                }
                #expect(seen == ["ADDED mine"])

                // Status updates for its own pods go through; another node's pods are refused.
                let patched = try await client.patch("/api/v1/namespaces/default/pods/mine/status", .object([
                    "status": .object(["phase": .string("Running"), "podIP": .string("10.244.1.5")]),
                ]), contentType: "application/strategic-merge-patch+json")
                #expect(patched["status"]?["phase"]?.stringValue == "Running")
                await #expect(throws: KubeAPIError.self) {
                    _ = try await client.patch("/api/v1/namespaces/default/pods/theirs/status",
                                               .object(["status": .object(["phase": .string("Running")])]))
                }
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }
}
