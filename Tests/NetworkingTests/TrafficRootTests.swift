import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Testing
@testable import Networking
import Runtime

/// Real traffic through what the plugins built: pod->pod, pod->node, node->pod, hostPort from
/// outside the node and from the node itself, and masquerading of pod traffic leaving the pod
/// subnet. All of it between namespaces the test makes: `node` (bridge, plugins), two pods,
/// and `outside`, a host on a link of its own to the node (198.51.100.0/24, TEST-NET-2).
@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"), .serialized)
struct TrafficRootTests {
    static let busybox = "/usr/bin/busybox"

    func conflist(_ plugins: PluginSet, scratch: String) -> String {
        switch plugins {
        case .ours:
            return #"{"cniVersion":"1.1.0","name":"traffic","plugins":[{"type":"swiftlet-bridge","bridge":"swtbr20","isGateway":true,"isDefaultGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"swiftlet-host-local","dataDir":"\#(scratch)/ipam","ranges":[[{"subnet":"10.76.0.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}},{"type":"swiftlet-portmap","capabilities":{"portMappings":true}},{"type":"swiftlet-loopback"}]}"#
        case .reference:
            return #"{"cniVersion":"1.0.0","name":"traffic","plugins":[{"type":"bridge","bridge":"swtbr21","isGateway":true,"isDefaultGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","dataDir":"\#(scratch)/ipam","ranges":[[{"subnet":"10.77.0.0/24"}]]}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"loopback"}]}"#
        }
    }

    /// A second link from the node to a host outside: node 198.51.100.1, outside 198.51.100.2.
    func connectOutside(node: TestNamespace, outside: TestNamespace) throws {
        let sock = try RouteSocket.inNamespace(node.path)
        let target = try FileDescriptor.open(outside.path, O_RDONLY)
        defer { target.close() }
        try sock.createVethPair(name: "uplink", peerName: "eth0", peerNamespace: target)
        let uplink = try sock.requireLink(named: "uplink")
        try sock.addAddress(index: uplink.index, try #require(IPNetwork("198.51.100.1/24")))
        try sock.setUp(index: uplink.index)
        let far = try RouteSocket.inNamespace(outside.path)
        let eth0 = try far.requireLink(named: "eth0")
        try far.addAddress(index: eth0.index, try #require(IPNetwork("198.51.100.2/24")))
        try far.setUp(index: eth0.index)
        try far.setUp(index: try far.requireLink(named: "lo").index)
        try far.addRoute(.defaultRoute(via: try #require(IPAddress("198.51.100.1")), interfaceIndex: eth0.index))
    }

    /// Serves `body` at /index.html and the client's address at /cgi-bin/ip.
    func serve(in ns: TestNamespace, at address: String, directory: String, body: String) throws -> pid_t {
        try FileSystem.createDirectory(directory + "/cgi-bin")
        try FileSystem.write(directory + "/index.html", Array(body.utf8))
        try FileSystem.write(directory + "/cgi-bin/ip", Array("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s' \"$REMOTE_ADDR\"\n".utf8), mode: 0o755)
        return try spawnIn(ns, TrafficRootTests.busybox, ["busybox", "httpd", "-f", "-p", address, "-h", directory])
    }

    /// GETs `url` from inside `ns` with curl (busybox's static wget crashes on Debian 12),
    /// retrying while the server starts.
    func fetch(from ns: TestNamespace, _ url: String) throws -> String {
        var last = ""
        for _ in 0..<50 {
            let run = try runIn(ns, "/usr/bin/curl", ["curl", "-s", "-S", "--max-time", "2", url])
            if run.status.succeeded { return run.stdoutText }
            last = run.stderrText
            usleep(40_000)
        }
        return "failed: \(last)"
    }

    @Test(arguments: PluginSet.allCases)
    func podToPodPodToNodeHostPortAndMasquerade(plugins: PluginSet) async throws {
        guard plugins.available else { Issue.record("\(plugins) plugins are not available"); return }
        try await withTestNamespaces(4) { nss, scratch in
            let (node, podA, podB, outside) = (nss[0], nss[1], nss[2], nss[3])
            try connectOutside(node: node, outside: outside)
            try writeConflist(scratch, conflist(plugins, scratch: scratch))
            let network = makePodNetwork(node: node, scratch: scratch, binDirs: plugins.binDirs)
            let a = try await network.attach(sandbox("sbx-ta", podA, ports: [PortMapping(containerPort: 8080, hostPort: 18080)]))
            let b = try await network.attach(sandbox("sbx-tb", podB))
            let ipA = try #require(a.podIPs.first)
            let gateway = try #require(a.result.ips.first?.gateway?.description)
            var servers: [pid_t] = []
            defer { servers.forEach(stop) }
            servers.append(try serve(in: podA, at: "0.0.0.0:8080", directory: scratch + "/www-a", body: "pod-a"))
            servers.append(try serve(in: node, at: "\(gateway):8081", directory: scratch + "/www-node", body: "node"))
            servers.append(try serve(in: outside, at: "198.51.100.2:8082", directory: scratch + "/www-out", body: "outside"))

            #expect(try fetch(from: podB, "http://\(ipA):8080/") == "pod-a", "pod -> pod")
            #expect(try fetch(from: podA, "http://\(gateway):8081/") == "node", "pod -> node")
            #expect(try fetch(from: node, "http://\(ipA):8080/") == "pod-a", "node -> pod")
            #expect(try fetch(from: outside, "http://198.51.100.1:18080/") == "pod-a", "hostPort from outside the node")
            #expect(try fetch(from: node, "http://198.51.100.1:18080/") == "pod-a", "hostPort from the node itself")
            #expect(try fetch(from: podB, "http://198.51.100.2:8082/cgi-bin/ip") == "198.51.100.1", "pod traffic leaving the subnet is masqueraded")
            // Inside the pod subnet nothing is rewritten: pod A sees pod B's own address.
            #expect(try fetch(from: podB, "http://\(ipA):8080/cgi-bin/ip") == b.podIPs.first)

            servers.forEach(stop)
            servers = []
            try await network.detach(sandboxID: "sbx-ta", netnsPath: podA.path)
            try await network.detach(sandboxID: "sbx-tb", netnsPath: podB.path)
            if plugins == .ours {
                // No rule of either attachment is left behind; the network's masquerade rule
                // stays with the bridge until GC finds the network without attachments.
                var ruleset = try runIn(node, "/usr/sbin/nft", ["nft", "list", "ruleset"]).stdoutText
                #expect(!ruleset.contains("sbx-ta") && !ruleset.contains("sbx-tb"), "\(ruleset)")
                #expect(ruleset.contains("swiftlet-masquerade traffic 10.76.0.0/24"))
                #expect(try await network.garbageCollect(validSandboxIDs: []) == [])
                ruleset = try runIn(node, "/usr/sbin/nft", ["nft", "list", "ruleset"]).stdoutText
                #expect(!ruleset.contains("swiftlet-masquerade traffic"), "\(ruleset)")
            }
            #expect(try eventually { try !ip("-n", node.name, "-o", "link").contains("veth") })
        }
    }
}
