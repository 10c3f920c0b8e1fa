import Glibc
import LinuxPrimitives
import Testing
@testable import LinuxNetlink

/// A network namespace pinned under /run/netns (so `ip -n NAME` can observe it), removed by
/// `withTestNamespaces` whatever the test does.
struct TestNamespace {
    let name: String
    var path: String { "/run/netns/" + name }
}

func withTestNamespaces<R>(_ count: Int, _ body: ([TestNamespace]) throws -> R) throws -> R {
    var made: [TestNamespace] = []
    defer { for ns in made { try? NetworkNamespace.remove(pinnedAt: ns.path) } }
    for _ in 0..<count {
        let ns = TestNamespace(name: "swt-" + RandomBytes.hex(8))
        try NetworkNamespace.create(pinnedAt: ns.path)
        made.append(ns)
    }
    return try body(made)
}

/// Runs `ip` to observe (never to configure what the product code is responsible for).
func ip(_ arguments: String...) throws -> String {
    let result = try Subprocess.run("/usr/sbin/ip", arguments: ["ip"] + arguments, environment: ["PATH=/usr/sbin:/usr/bin:/bin"])
    return String(decoding: result.stdout + result.stderr, as: UTF8.self)
}

@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"))
struct RouteRootTests {
    @Test func namespaceHelpersAreIsolated() throws {
        try withTestNamespaces(1) { nss in
            let ns = nss[0]
            #expect(NetworkNamespace.exists(ns.path))
            #expect(!NetworkNamespace.isSame(ns.path, "/proc/self/ns/net"))
            let inside = try NetworkNamespace.run(ns.path) { try FileSystem.readSmall("/proc/thread-self/net/dev") }
            #expect(inside.contains("lo:"))
            #expect(!inside.contains("eth0"), "a new namespace has only lo")
            // The thread is back where it started.
            #expect(NetworkNamespace.isSame(NetworkNamespace.currentThreadPath, "/proc/self/ns/net"))
        }
    }

    @Test func bridgeVethAddressesRoutesAndHairpin() throws {
        try withTestNamespaces(2) { nss in
            let node = nss[0], pod = nss[1]
            let sock = try RouteSocket.inNamespace(node.path)
            let bridgeMAC = MACAddress.randomLocal()
            try sock.createBridge(name: "swbr0", mtu: 1400, mac: bridgeMAC)
            let bridge = try sock.requireLink(named: "swbr0")
            #expect(bridge.kind == "bridge")
            #expect(bridge.mtu == 1400)
            #expect(bridge.mac == bridgeMAC)
            try sock.setUp(index: bridge.index)

            let podFD = try FileDescriptor.open(pod.path, O_RDONLY)
            defer { podFD.close() }
            let podMAC = MACAddress.randomLocal()
            try sock.createVethPair(name: "vethtest0", peerName: "eth0", peerNamespace: podFD, mtu: 1400, peerMAC: podMAC)
            #expect(throws: NetlinkError.self) {
                try sock.createVethPair(name: "vethtest0", peerName: "eth9", peerNamespace: podFD)
            }
            let host = try sock.requireLink(named: "vethtest0")
            #expect(host.kind == "veth")
            #expect(host.mtu == 1400)
            try sock.setMaster(index: host.index, master: bridge.index)
            try sock.setUp(index: host.index)
            try sock.setHairpin(index: host.index, true)
            #expect(try sock.hairpin(index: host.index) == true)
            #expect(try ip("-n", node.name, "-d", "link", "show", "vethtest0").contains("hairpin on"))
            #expect(try sock.link(index: host.index)?.masterIndex == bridge.index)
            #expect(try ip("-n", node.name, "link", "show", "vethtest0").contains("master swbr0"))

            let podSock = try RouteSocket.inNamespace(pod.path)
            let eth0 = try podSock.requireLink(named: "eth0")
            #expect(eth0.mac == podMAC)
            #expect(eth0.parentIndex == host.index)
            try podSock.setUp(index: eth0.index)
            let lo = try podSock.requireLink(named: "lo")
            try podSock.setUp(index: lo.index)

            let gateway = try #require(IPNetwork("10.77.0.1/24"))
            let podAddress = try #require(IPNetwork("10.77.0.2/24"))
            try sock.addAddress(index: bridge.index, gateway)
            do {
                try sock.addAddress(index: bridge.index, gateway)
                Issue.record("adding an address twice must fail")
            } catch let error as NetlinkError {
                #expect(error.alreadyExists)
            }
            try podSock.addAddress(index: eth0.index, podAddress)
            #expect(try podSock.addresses(index: eth0.index, version: 4).map(\.network) == [podAddress])
            #expect(try ip("-n", pod.name, "addr", "show", "eth0").contains("inet 10.77.0.2/24 brd 10.77.0.255"))

            try podSock.addRoute(.defaultRoute(via: gateway.address, interfaceIndex: eth0.index))
            var extra = RouteEntry(destination: try #require(IPNetwork("192.0.2.0/24")), gateway: gateway.address)
            extra.mtu = 1300
            try podSock.addRoute(extra)
            let routes = try podSock.routes(version: 4)
            #expect(routes.contains { $0.destination.prefixLength == 0 && $0.gateway == gateway.address })
            #expect(routes.contains { $0.destination.description == "192.0.2.0/24" && $0.mtu == 1300 })
            #expect(try ip("-n", pod.name, "route").contains("default via 10.77.0.1 dev eth0"))
            try podSock.deleteRoute(extra)
            #expect(throws: NetlinkError.self) { try podSock.deleteRoute(extra) }
            #expect(!(try ip("-n", pod.name, "route").contains("192.0.2.0")))

            // Traffic through the bridge moves the 64-bit counters.
            let before = try podSock.requireLink(named: "eth0").statistics
            let ping = try NetworkNamespace.run(pod.path) {
                try Subprocess.run("/usr/bin/busybox", arguments: ["ping", "-c", "2", "-W", "2", "10.77.0.1"], environment: [])
            }
            #expect(ping.status.succeeded, "\(String(decoding: ping.stdout, as: UTF8.self))")
            let after = try podSock.requireLink(named: "eth0").statistics
            #expect(after.txPackets >= before.txPackets + 2)
            #expect(after.rxBytes > before.rxBytes)

            try podSock.deleteAddress(index: eth0.index, podAddress)
            #expect(try podSock.addresses(index: eth0.index, version: 4).isEmpty)

            try sock.setMTU(index: host.index, 1300)
            #expect(try sock.requireLink(named: "vethtest0").mtu == 1300)
            try sock.setMaster(index: host.index, master: nil)
            #expect(try sock.requireLink(named: "vethtest0").masterIndex == nil)

            // Deleting the pod end removes both; deleting again is fine.
            #expect(try podSock.deleteLink(named: "eth0"))
            #expect(try sock.link(named: "vethtest0") == nil)
            #expect(try !podSock.deleteLink(named: "eth0"))
            #expect(try sock.deleteLink(named: "swbr0"))
        }
    }

    @Test func moveLinkBetweenNamespacesAndRename() throws {
        try withTestNamespaces(2) { nss in
            let a = try RouteSocket.inNamespace(nss[0].path)
            let b = try RouteSocket.inNamespace(nss[1].path)
            try a.createVethPair(name: "mva", peerName: "mvb")
            let peer = try a.requireLink(named: "mvb")
            let target = try FileDescriptor.open(nss[1].path, O_RDONLY)
            defer { target.close() }
            try a.moveToNamespace(index: peer.index, target)
            #expect(try a.link(named: "mvb") == nil)
            let moved = try b.requireLink(named: "mvb")
            try b.rename(index: moved.index, to: "eth1")
            #expect(try b.link(named: "eth1") != nil)
            let mac = MACAddress.randomLocal()
            try b.setMAC(index: moved.index, mac)
            #expect(try b.link(index: moved.index)?.mac == mac)
            #expect(try a.links().contains { $0.name == "mva" })
        }
    }

    @Test func sysctlIsPerNamespace() throws {
        try withTestNamespaces(1) { nss in
            let hostValue = try Sysctl.read("net.ipv4.ip_forward")
            // New namespaces may start from the host's value (kernel-dependent): flip whatever it is.
            let (wanted, seen) = try NetworkNamespace.run(nss[0].path) { () throws -> (String, (String, Bool, String, Bool)) in
                let initial = try Sysctl.read("net.ipv4.ip_forward")
                let wanted = initial == "1" ? "0" : "1"
                return (wanted, (initial, try Sysctl.ensure("net.ipv4.ip_forward", wanted),
                                 try Sysctl.read("net.ipv4.ip_forward"), try Sysctl.ensure("net.ipv4.ip_forward", wanted)))
            }
            #expect(seen.0 != wanted)
            #expect(seen.1)
            #expect(seen.2 == wanted)
            #expect(!seen.3)
            #expect(try Sysctl.read("net.ipv4.ip_forward") == hostValue)
        }
        #expect(Sysctl.path(for: "net/ipv4/conf/eth0.100/forwarding") == "/proc/sys/net/ipv4/conf/eth0.100/forwarding")
    }
}
