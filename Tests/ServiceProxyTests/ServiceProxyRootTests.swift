import Foundation
import Glibc
import KubeAPI
import LinuxNetlink
import Testing
@testable import ServiceProxy

/// Real traffic through real nftables rules programmed over netlink, inside namespaces made
/// for each test. The proxier runs in this process; its netlink sockets live in the node
/// namespace.
@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces, nf_tables)"), .serialized)
struct ServiceProxyRootTests {
    func makeProxier(_ topo: Topology, configure: (inout ProxyConfig) -> Void = { _ in }) throws -> Proxier {
        var config = ProxyConfig(nodeName: "node-a")
        configure(&config)
        return Proxier(config: config, backend: try NetlinkProxyBackend(networkNamespace: topo.nodePath), minSyncPeriod: .zero)
    }

    func webService(_ extra: String = "", ports: String = "[{name: http, port: 80, targetPort: 8080, protocol: TCP}, {name: dns, port: 53, targetPort: 5353, protocol: UDP}]") -> Service {
        Fixtures.service("web", ip: "10.96.0.10", ports: ports, extra: extra)
    }

    func slice(_ topo: Topology, _ backends: [Int], name: String = "web-abc") -> EndpointSlice {
        let yaml = """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: \(name), namespace: default, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 5353, protocol: UDP}]
        endpoints: [\(backends.map { "{addresses: [\"\(topo.backendIP($0))\"], conditions: {ready: true}, nodeName: node-a}" }.joined(separator: ", "))]
        """
        return Fixtures.decode(yaml)
    }

    @Test func clusterIPSpreadsTCPAndAnswersUDP() async throws {
        let topo = try Topology(backends: 3)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService())
        await proxier.update(slice: slice(topo, [1, 2, 3]))
        #expect(await proxier.sync())

        let counts = try topo.httpCounts(from: topo.client, url: "http://10.96.0.10/", count: 300)
        #expect(counts.keys.sorted() == ["backend-1", "backend-2", "backend-3"], "\(counts)")
        for (_, n) in counts { #expect(n >= 60 && n <= 140, "uneven spread: \(counts)") }
        let answer = try topo.clientRun(topo.client, "udp 10.96.0.10 53 40000")
        #expect(answer.hasPrefix("backend-"), "UDP answer: \(answer)")

        // From the node itself (nat output path) too.
        let fromNode = try topo.httpCounts(from: topo.node, url: "http://10.96.0.10/", count: 30)
        #expect(fromNode.values.reduce(0, +) == 30 && fromNode.keys.allSatisfy { $0.hasPrefix("backend-") }, "\(fromNode)")
    }

    @Test func clientIPAffinitySticks() async throws {
        let topo = try Topology(backends: 3)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService("sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}"))
        await proxier.update(slice: slice(topo, [1, 2, 3]))
        #expect(await proxier.sync())
        let counts = try topo.httpCounts(from: topo.client, url: "http://10.96.0.10/", count: 40)
        #expect(counts.count == 1 && counts.values.first == 40, "affinity did not stick: \(counts)")
        let ruleset = try shell("ip netns exec \(topo.node) nft list ruleset")
        #expect(ruleset.contains("flags dynamic,timeout") && ruleset.contains("timeout 10m"))
    }

    @Test func nodePortOnNodeAddressesOnly() async throws {
        let topo = try Topology(backends: 2)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo) { $0.nodePortAddresses = [IPPrefix("10.251.0.0/24")!] }
        await proxier.update(service: webService("type: NodePort", ports: "[{name: http, port: 80, targetPort: 8080, nodePort: 30080}]"))
        await proxier.update(slice: slice(topo, [1, 2]))
        #expect(await proxier.sync())
        let counts = try topo.httpCounts(from: topo.client, url: "http://10.251.0.1:30080/", count: 40)
        #expect(counts.values.reduce(0, +) == 40 && counts.keys.allSatisfy { $0.hasPrefix("backend-") }, "\(counts)")
        let ruleset = try shell("ip netns exec \(topo.node) nft list set ip swiftlet-proxy nodeport-ips")
        #expect(ruleset.contains("10.251.0.1") && !ruleset.contains("10.249.0.1"))

        // Default (all local addresses): the uplink address accepts it too.
        let all = try makeProxier(topo)
        await all.update(service: webService("type: NodePort", ports: "[{name: http, port: 80, targetPort: 8080, nodePort: 30080}]"))
        await all.update(slice: slice(topo, [1, 2]))
        #expect(await all.sync())
        let fromNode = try topo.httpCounts(from: topo.node, url: "http://10.249.0.1:30080/", count: 10)
        #expect(fromNode.values.reduce(0, +) == 10 && fromNode.keys.allSatisfy { $0.hasPrefix("backend-") }, "\(fromNode)")
    }

    /// Local policies through the shared pick chains: backends 1 and 2 run on this node,
    /// backend 3 elsewhere (all reachable here, as pods of other nodes are).
    @Test func localTrafficPoliciesPickThisNodesEndpoints() async throws {
        let topo = try Topology(backends: 3)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo) { $0.clusterCIDRs = [IPPrefix("10.250.0.0/16")!] }
        func placedSlice(_ service: String) -> EndpointSlice {
            let eps = [(1, "node-a"), (2, "node-a"), (3, "node-b")].map {
                "{addresses: [\"\(topo.backendIP($0.0))\"], conditions: {ready: true}, nodeName: \($0.1)}"
            }
            return Fixtures.decode("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(service)-abc, namespace: default, labels: {kubernetes.io/service-name: \(service)}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}]
            endpoints: [\(eps.joined(separator: ", "))]
            """)
        }
        await proxier.update(service: webService("type: NodePort, externalTrafficPolicy: Local, externalIPs: [10.252.0.100]",
                                                 ports: "[{name: http, port: 80, targetPort: 8080, nodePort: 30080}]"))
        await proxier.update(slice: placedSlice("web"))
        await proxier.update(service: Fixtures.service("inner", ip: "10.96.0.11", extra: "internalTrafficPolicy: Local"))
        await proxier.update(slice: placedSlice("inner"))
        #expect(await proxier.sync())

        // From outside the cluster: only this node's endpoints, by external IP and node port.
        for url in ["http://10.252.0.100/", "http://10.251.0.1:30080/"] {
            let counts = try topo.httpCounts(from: topo.client, url: url, count: 40)
            #expect(counts.values.reduce(0, +) == 40 && Set(counts.keys) == ["backend-1", "backend-2"], "\(url): \(counts)")
        }
        // From a pod (inside the cluster CIDR): any endpoint, the caller itself included (the
        // hairpin pair of an endpoint on another node is there for this).
        let fromPod = try topo.httpCounts(from: topo.backend(3), url: "http://10.252.0.100/", count: 45)
        #expect(fromPod.values.reduce(0, +) == 45 && Set(fromPod.keys) == ["backend-1", "backend-2", "backend-3"], "\(fromPod)")
        // internalTrafficPolicy: Local: the ClusterIP leads only to this node's endpoints.
        let inner = try topo.httpCounts(from: topo.client, url: "http://10.96.0.11/", count: 40)
        #expect(inner.values.reduce(0, +) == 40 && Set(inner.keys) == ["backend-1", "backend-2"], "\(inner)")
        let ruleset = try shell("ip netns exec \(topo.node) nft list ruleset")
        #expect(ruleset.contains("external-local-pick-3-2") && ruleset.contains("local-pick-2"), "\(ruleset)")
    }

    @Test func noEndpointsRejectsFast() async throws {
        let topo = try Topology(backends: 1)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService())
        await proxier.update(slice: slice(topo, []))
        #expect(await proxier.sync())
        for ns in [topo.client, topo.node] {
            let tcp = try topo.clientRun(ns, "connect 10.96.0.10 80")
            #expect(tcp.contains("\"refused\""), "TCP from \(ns): \(tcp)")
            let ms = Int(tcp.split(separator: ":").last?.filter(\.isNumber) ?? "") ?? 9999
            #expect(ms < 500, "reject took \(ms) ms")
            // Forwarded UDP gets ICMP port unreachable; a local sender sees its send refused (EPERM).
            let udp = try topo.clientRun(ns, "udp 10.96.0.10 53 40001")
            #expect(udp == (ns == topo.client ? "refused" : "refused-locally"), "UDP from \(ns): \(udp)")
        }
        // A port the ClusterIP does not serve is rejected as well.
        #expect(try topo.clientRun(topo.client, "connect 10.96.0.10 81").contains("\"refused\""))
    }

    @Test func udpFlowMovesToNewEndpointAfterOldOneGoes() async throws {
        let topo = try Topology(backends: 2)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService())
        await proxier.update(slice: slice(topo, [1]))
        #expect(await proxier.sync())
        #expect(try topo.clientRun(topo.client, "udp 10.96.0.10 53 41000") == "backend-1")
        #expect(try shell("ip netns exec \(topo.node) conntrack -L -p udp --dport 53 2>/dev/null").contains("10.250.1.2"))
        // backend-1 keeps running: only the conntrack cleanup can move the flow.
        await proxier.update(slice: slice(topo, [2]))
        #expect(await proxier.sync())
        #expect(try topo.clientRun(topo.client, "udp 10.96.0.10 53 41000") == "backend-2")
    }

    @Test func hairpinBackendReachesItsOwnService() async throws {
        let topo = try Topology(backends: 1)
        defer { topo.tearDown() }
        try topo.startServers()
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService())
        await proxier.update(slice: slice(topo, [1]))
        #expect(await proxier.sync())
        let counts = try topo.httpCounts(from: topo.backend(1), url: "http://10.96.0.10/", count: 5)
        #expect(counts == ["backend-1": 5], "\(counts)")
    }

    @Test func onlyOurTablesAndStaleObjectsGo() async throws {
        let topo = try Topology(backends: 1)
        defer { topo.tearDown() }
        // Someone else's table, and a stale chain of ours from an earlier run.
        try shell("""
        ip netns exec \(topo.node) nft -f - <<'EOF'
        table inet other {
          chain input {
            type filter hook input priority 0; policy accept;
            tcp dport 9999 counter accept
          }
        }
        table ip swiftlet-proxy {
          chain service-STALE {
            counter
          }
        }
        EOF
        """)
        let before = try shell("ip netns exec \(topo.node) nft list table inet other")
        let proxier = try makeProxier(topo)
        await proxier.update(service: webService())
        await proxier.update(slice: slice(topo, [1]))
        #expect(await proxier.sync())
        await proxier.update(slice: slice(topo, []))
        #expect(await proxier.sync())
        let tables = try shell("ip netns exec \(topo.node) nft list tables").split(separator: "\n").map(String.init).sorted()
        #expect(tables == ["table inet other", "table ip swiftlet-proxy", "table ip6 swiftlet-proxy"])
        #expect(try shell("ip netns exec \(topo.node) nft list table inet other") == before)
        let ours = try shell("ip netns exec \(topo.node) nft list table ip swiftlet-proxy")
        #expect(!ours.contains("STALE"))
        #expect(ours.contains("10.96.0.10 . tcp . 80 : goto reject-chain"))
    }
}
