import Synchronization
import Foundation
import Glibc
import Testing

/// Two agents on one machine, each in its own network namespace with its own root, run dir,
/// cgroup root and pod CIDR, joined to one API server. A veth pair (made here) links the two
/// node namespaces; each agent (--node-routes) routes the other node's spec.podCIDR via its
/// InternalIP. A Deployment spreads over both nodes, and its Service's ClusterIP reaches pods
/// on either node from inside each node's namespace.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct TwoNodeSlowRootTests {
    @Test func podsSpreadAndServicesReachBothNodes() async throws {
        let h1 = try AgentHarness()
        let h2 = try AgentHarness()
        var apiserver: Process?
        do {
            let third = Int.random(in: 1...250)
            let ip1 = "10.254.\(third).1", ip2 = "10.254.\(third).2"
            let cidr1 = "10.92.\(third).0/24", cidr2 = "10.93.\(third).0/24"
            try h1.run("/usr/sbin/ip", ["-n", h1.netns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", h2.netns])
            for (h, ip) in [(h1, ip1), (h2, ip2)] {
                try h.run("/usr/sbin/ip", ["-n", h.netns, "addr", "add", ip + "/24", "dev", "eth1"])
                try h.run("/usr/sbin/ip", ["-n", h.netns, "link", "set", "eth1", "up"])
                // As on any node, a default route: a Service ClusterIP is routed before the
                // proxy's rules translate it (locally made packets need a route to start with).
                try h.run("/usr/sbin/ip", ["-n", h.netns, "route", "add", "default", "dev", "eth1"])
            }
            let port = AgentHarness.freePort()
            apiserver = try await h1.startAPIServer(port: port, sans: [ip1])
            let server = "https://\(ip1):\(port)"
            try h1.startJoinedAgent(name: "n1", nodeIP: ip1, server: server, podCIDR: cidr1, extra: ["--node-routes"])
            try h2.startJoinedAgent(name: "n2", nodeIP: ip2, server: server, podCIDR: cidr2, caDataDir: h1.apiserverDataDir, extra: ["--node-routes"])
            #expect(await h1.eventually(60) { h1.nodeReady("n1") == "True" && h1.nodeReady("n2") == "True" },
                    "n2's agent:\n\(h2.tail(h2.agentLog))")
            // Ready is not yet schedulable: the node lifecycle controller lifts the not-ready
            // taint on its next pass (a few seconds on a busy machine), as upstream does.
            #expect(await h1.eventually(60) {
                ["n1", "n2"].allSatisfy { (h1.kubectl(["get", "node", $0, "-o", "jsonpath={.spec.taints}"]) ?? "?").isEmpty }
            }, "taints: \(h1.kubectl(["get", "nodes", "-o", "jsonpath={.items[*].spec.taints}"]) ?? "?")")
            #expect(h1.kubectl(["get", "node", "n2", "-o", "jsonpath={.spec.podCIDR}"]) == cidr2)
            // Each node routes the other's pod CIDR via the other's InternalIP.
            @Sendable func route(_ h: AgentHarness, _ cidr: String) -> String {
                (try? h.run("/usr/sbin/ip", ["-n", h.netns, "route", "show", cidr])) ?? ""
            }
            #expect(await h1.eventually(20) { route(h1, cidr2).contains("via \(ip2)") && route(h2, cidr1).contains("via \(ip1)") },
                    "n1: \(route(h1, cidr2)) n2: \(route(h2, cidr1))")

            try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 4
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: test.local/busybox:1
                    command: ["/bin/sh", "-c", "mkdir -p /w; hostname > /w/index.html; exec httpd -f -p 8080 -h /w"]
                    resources: {requests: {cpu: 10m, memory: 8Mi}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
            """.write(toFile: h1.base + "/web.yaml", atomically: true, encoding: .utf8)
            #expect(h1.kubectl(["apply", "-f", h1.base + "/web.yaml"]) != nil)
            @Sendable func running() -> [(name: String, node: String, ip: String)] {
                let out = h1.kubectl(["get", "pods", "-l", "app=web", "-o",
                                      "jsonpath={range .items[?(@.status.phase==\"Running\")]}{.metadata.name} {.spec.nodeName} {.status.podIP}{\"\\n\"}{end}"]) ?? ""
                return out.split(separator: "\n").compactMap { line in
                    let f = line.split(separator: " ").map(String.init)
                    return f.count == 3 ? (f[0], f[1], f[2]) : nil
                }
            }
            #expect(await h1.eventually(60) { running().count == 4 })
            let pods = running()
            #expect(Set(pods.map(\.node)) == ["n1", "n2"], "placement: \(pods)")
            // Pod IPs come from the CIDR of the node each pod runs on.
            for pod in pods {
                let prefix = pod.node == "n1" ? "10.92.\(third)." : "10.93.\(third)."
                #expect(pod.ip.hasPrefix(prefix), "\(pod)")
            }
            // Every pod answers from both node namespaces (pod-to-node-routed traffic).
            for h in [h1, h2] {
                for pod in pods { #expect(h.curl("http://\(pod.ip):8080/")?.hasPrefix(pod.name) == true, "\(pod) from \(h.netns)") }
            }
            // The ClusterIP reaches pods on both nodes from each node.
            let clusterIP = h1.kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]) ?? ""
            let nodeOf = Dictionary(pods.map { ($0.name, $0.node) }, uniquingKeysWith: { a, _ in a })
            for h in [h1, h2] {
                let seen = Mutex(Set<String>())
                let reached = await h.eventually(30) {
                    if let body = h.curl("http://\(clusterIP)/", timeout: 2), let node = nodeOf[body.trimmingCharacters(in: .whitespacesAndNewlines)] {
                        seen.withLock { _ = $0.insert(node) }
                    }
                    return seen.withLock { $0 == ["n1", "n2"] }
                }
                let nodesSeen = seen.withLock { $0 }
                #expect(reached, "from \(h.netns) the ClusterIP \(clusterIP) reached pods on \(nodesSeen)")
            }
            #expect(h1.kubectl(["delete", "-f", h1.base + "/web.yaml"]) != nil)
            #expect(await h1.eventually(60) { h1.noPods() })
            // A node that leaves takes its route with it.
            h2.killAgent()
            #expect(h1.kubectl(["delete", "node", "n2"]) != nil)
            #expect(await h1.eventually(20) { !route(h1, cidr2).contains("via") })
        } catch {
            Issue.record(error)
        }
        h1.stop(apiserver)
        await h1.tearDown()
        await h2.tearDown()
    }
}
