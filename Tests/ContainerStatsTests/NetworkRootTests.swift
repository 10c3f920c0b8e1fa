import LinuxNetlink
import LinuxPrimitives
import Testing
@testable import ContainerStats

/// Pod network counters through a netlink socket opened inside a real network namespace.
@Suite(.enabled(if: TestHost.canMakeCgroups, "needs root (network namespaces, veth)"), .serialized)
struct NetworkRootTests {
    @Test func trafficOverThePodVethRaisesRxAndTx() async throws {
        let pair = try NetnsPairFixture()
        defer { pair.cleanup() }
        let now = HostConstants.wallClockSeconds()
        let pod = PodTarget(namespace: "net-test", name: "talker", uid: "uid-net-" + TestHost.uniqueSuffix(), cgroupPath: "",
                            startTime: now, networkNamespacePath: pair.podPath)
        let source = StaticTargetSource(StatsTargets(pods: [pod]))
        let stats = try StatsService(source: source)

        let first = await stats.housekeepOnce()
        let before = try #require(first.pods.first?.network?.interfaces.first { $0.name == "eth0" })
        #expect(first.pods.first?.network?.interfaces.contains { $0.name == "lo" } == false)
        let count = 200
        let size = 1000
        try pair.sendUDP(from: pair.peer, to: pair.podAddress, count: count, size: size)
        try pair.sendUDP(from: pair.pod, to: pair.peerAddress, count: count, size: size)
        let second = await stats.housekeepOnce()
        let after = try #require(second.pods.first?.network?.interfaces.first { $0.name == "eth0" })
        #expect(after.rxBytes - before.rxBytes >= UInt64(count * size), "rx grew by \(after.rxBytes - before.rxBytes)")
        #expect(after.txBytes - before.txBytes >= UInt64(count * size), "tx grew by \(after.txBytes - before.txBytes)")
        #expect(after.rxPackets - before.rxPackets >= UInt64(count))

        let text = String(decoding: CadvisorMetrics.render(second), as: UTF8.self)
        let expected = "container_network_receive_bytes_total{container=\"\",id=\"\",image=\"\",interface=\"eth0\",name=\"\",namespace=\"net-test\",pod=\"talker\"} \(after.rxBytes) "
        #expect(text.split(separator: "\n").contains { $0.hasPrefix(expected) }, "no pod-level eth0 series in the exposition")

        // The pod leaves: its socket (which pins the namespace) is closed in the next round.
        #expect(await stats.housekeeper.openNetworkSockets == 2)
        source.set(StatsTargets())
        await stats.housekeepOnce()
        #expect(await stats.housekeeper.openNetworkSockets == 1)
    }

    @Test func readerInsideNamespaceSeesOnlyItsLinks() throws {
        let pair = try NetnsPairFixture()
        defer { pair.cleanup() }
        let home = FileIdentity.of("/proc/thread-self/ns/net")
        let reader = try LinkStatsReader.inNetworkNamespace(pair.podPath)
        // Synchronous code: still the same thread, which must be back in its own namespace.
        #expect(FileIdentity.of("/proc/thread-self/ns/net") == home)
        #expect(home != FileIdentity.of(pair.podPath))
        let names = Set(try reader.links().map(\.name))
        #expect(names == ["lo", "eth0"])
        #expect(throws: SystemError.self) { _ = try LinkStatsReader.inNetworkNamespace("/run/netns/swiftlet-missing-\(TestHost.uniqueSuffix())") }
    }
}
