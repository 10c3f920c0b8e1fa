import Foundation
import Glibc
import Testing

/// `swiftlet apiserver` and `swiftlet agent --kubeconfig` as separate processes. The agent is
/// killed: the node turns NotReady after the API server's --node-monitor-grace-period, pods
/// keep serving, and the restarted agent makes it Ready again without restarting a container.
/// The API server is killed: pods keep serving; restarted, it sees the agent's Lease renewals
/// and status again, and the pods are as they were.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct NodeResilienceSlowRootTests {
    @Test func agentAndAPIServerRestarts() async throws {
        let h = try AgentHarness()
        var apiserver: Process?
        do {
            let (nodeIP, third) = try h.addRandomNodeAddress()
            let port = AgentHarness.freePort()
            // Lease renewed every 2 s, a node silent for 6 s is NotReady.
            let apiArgs = ["--node-monitor-grace-period", "6s", "--node-monitor-period", "500ms"]
            let agentArgs = ["--node-lease-duration-seconds", "8"]
            apiserver = try await h.startAPIServer(port: port, sans: [nodeIP], extra: apiArgs)
            let server = "https://\(nodeIP):\(port)"
            try h.startJoinedAgent(name: "n1", nodeIP: nodeIP, server: server, podCIDR: "10.91.\(third).0/24", extra: agentArgs)
            #expect(await h.eventually(60) { h.nodeReady("n1") == "True" }, "agent log:\n\(h.tail(h.agentLog))")
            try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{name: web, image: test.local/busybox:1, command: ["/bin/sh", "-c", "mkdir -p /w; hostname > /w/index.html; exec httpd -f -p 8080 -h /w"]}]
            """.write(toFile: h.base + "/web.yaml", atomically: true, encoding: .utf8)
            #expect(h.kubectl(["apply", "-f", h.base + "/web.yaml"]) != nil)
            @Sendable func readyPods() -> Int {
                let out = h.kubectl(["get", "pods", "-l", "app=web", "-o",
                                     "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"]) ?? ""
                return out.split(separator: "\n").filter { $0 == "True" }.count
            }
            #expect(await h.eventually(60) { readyPods() == 2 })
            let ids = h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].containerID}"]) ?? ""
            let podIPs = (h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"]) ?? "").split(separator: " ").map(String.init)
            #expect(podIPs.count == 2 && ids.split(separator: " ").count == 2)
            func allServe() -> Bool { !podIPs.isEmpty && podIPs.allSatisfy { h.curl("http://\($0):8080/") != nil } }
            #expect(allServe(), "\(podIPs) \((try? h.run("/usr/sbin/ip", ["-n", h.netns, "-br", "addr"])) ?? "") \((try? h.run("/usr/sbin/ip", ["-n", h.netns, "route"])) ?? "") \((try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/bin/curl", "-sv", "--max-time", "3", "http://\(podIPs.first ?? ""):8080/"])) ?? "curl failed")")

            // The agent dies: NotReady (Ready=Unknown) after the grace period; pods keep serving.
            h.killAgent()
            let killed = Date()
            #expect(await h.eventually(40) { h.nodeReady("n1") == "Unknown" })
            let toNotReady = Date().timeIntervalSince(killed)
            print("node n1: Ready=Unknown \(String(format: "%.1f", toNotReady)) s after the agent was killed (grace 6 s)")
            #expect(h.kubectl(["get", "nodes", "n1", "--no-headers"])?.contains(" NotReady ") == true)
            #expect(allServe())
            // Back: Ready again, same containers, none restarted, pods Ready again.
            try h.startJoinedAgent(name: "n1", nodeIP: nodeIP, server: server, podCIDR: "10.91.\(third).0/24", extra: agentArgs)
            let restarted = Date()
            #expect(await h.eventually(60) { h.nodeReady("n1") == "True" })
            print("node n1: Ready \(String(format: "%.1f", Date().timeIntervalSince(restarted))) s after the agent restarted")
            #expect(await h.eventually(30) { readyPods() == 2 })
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].containerID}"]) == ids)
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].restartCount}"]) == "0 0")

            // The API server dies: pods keep serving while it is away.
            @Sendable func renewTime() -> String? { h.kubectl(["get", "lease", "-n", "kube-node-lease", "n1", "-o", "jsonpath={.spec.renewTime}"]) }
            let before = renewTime() ?? ""
            #expect(!before.isEmpty)
            h.stop(apiserver)
            #expect(h.kubectl(["get", "nodes"]) == nil)
            for _ in 0..<3 { #expect(allServe()) }
            apiserver = try await h.startAPIServer(port: port, sans: [nodeIP], extra: apiArgs)
            // Lease renewals resume (renewTime is RFC 3339 with microseconds: ordered as text).
            #expect(await h.eventually(40) { (renewTime() ?? "") > before }, "agent log:\n\(h.tail(h.agentLog))")
            #expect(h.nodeReady("n1") == "True")
            #expect(readyPods() == 2)
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].containerID}"]) == ids)
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].restartCount}"]) == "0 0")
            #expect(allServe())
            // The agent still follows the API server: a scale-down reaches it.
            #expect(h.kubectl(["scale", "deployment", "web", "--replicas=1"]) != nil)
            #expect(await h.eventually(60) { (try? FileManager.default.contentsOfDirectory(atPath: h.root + "/pods"))?.count == 1 })
            #expect(h.kubectl(["delete", "-f", h.base + "/web.yaml"]) != nil)
            #expect(await h.eventually(60) { h.noPods() })
        } catch {
            Issue.record(error)
        }
        h.stop(apiserver)
        await h.tearDown()
    }
}
