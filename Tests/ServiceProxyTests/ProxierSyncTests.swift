import KubeAPI
import LinuxNetlink
import Testing
@testable import ServiceProxy

@Suite struct ProxierSyncTests {
    func proxier(_ backend: RecordingBackend, families: [IPFamily] = [.ipv4]) -> Proxier {
        var config = ProxyConfig(nodeName: "node-a")
        config.families = families
        return Proxier(config: config, backend: backend, minSyncPeriod: .zero)
    }

    func populate(_ p: Proxier, count: Int) async {
        for i in 0..<count {
            await p.update(service: Fixtures.service("svc\(i)", ip: "10.96.\(i / 200).\(i % 200 + 1)"))
            await p.update(slice: Fixtures.slice("svc\(i)", Fixtures.ready("10.1.\(i / 200).\(i % 200 + 1)", "10.2.\(i / 200).\(i % 200 + 1)")))
        }
    }

    @Test func firstSyncRecreatesOurTableAtomically() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await populate(p, count: 3)
        #expect(await p.sync())
        let ops = try #require(backend.last).operations
        // add + delete + add: whatever was left in our table goes in the same transaction.
        #expect(Array(ops.prefix(3)) == [.addTable(NFTTableRef(family: .ip, name: "swiftlet-proxy")),
                                          .deleteTable(NFTTableRef(family: .ip, name: "swiftlet-proxy")),
                                          .addTable(NFTTableRef(family: .ip, name: "swiftlet-proxy"))])
        // Only our table is ever named.
        for op in ops {
            if case .addRule(let r) = op { #expect(r.table.name == "swiftlet-proxy") }
        }
        let names = backend.last!.touchedNames
        #expect(names.contains { $0.hasPrefix("service-") && $0.hasSuffix("default/svc2/tcp/http") })
    }

    @Test func oneServiceChangeTouchesOnlyThatServiceAndIsFlat() async throws {
        var sizes: [Int] = []
        for count in [10, 300] {
            let backend = RecordingBackend()
            let p = proxier(backend)
            await populate(p, count: count)
            #expect(await p.sync())
            await p.update(slice: Fixtures.slice("svc7", Fixtures.ready("10.1.0.8", "10.2.0.8", "10.3.0.8")))
            #expect(await p.sync())
            let tx = try #require(backend.last)
            #expect(backend.transactions.count == 2)
            let chains = Set(tx.touchedNames.filter { $0.contains("/") })
            #expect(chains.allSatisfy { $0.contains("default/svc7/") }, "touched: \(chains)")
            // Only the new endpoint's hairpin pair is a new element; the chain is rewritten
            // for three endpoints (three DNAT rules).
            #expect(tx.elementCount == 1)
            #expect(tx.rules.count == 3)
            #expect(tx.operations.contains { if case .flushChain(_, let c) = $0 { return c.hasSuffix("default/svc7/tcp/http") } else { return false } })
            sizes.append(tx.count)
        }
        #expect(sizes[0] == sizes[1], "transaction size must not grow with the number of services: \(sizes)")
    }

    @Test func unchangedInputsSyncNothing() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await populate(p, count: 5)
        #expect(await p.sync())
        await p.update(service: Fixtures.service("svc1", ip: "10.96.0.2"))  // same as before
        #expect(await p.sync())
        #expect(backend.transactions.count == 1)
    }

    @Test func refusedBatchMakesTheNextSyncFull() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await populate(p, count: 3)
        #expect(await p.sync())
        backend.failNext()
        await p.update(slice: Fixtures.slice("svc1", Fixtures.ready("10.9.9.9")))
        #expect(await p.sync() == false)
        #expect(await p.metrics.syncFailures == 1)
        #expect(await p.sync())
        let ops = try #require(backend.last).operations
        #expect(ops.first == .addTable(NFTTableRef(family: .ip, name: "swiftlet-proxy")))
        #expect(ops.contains(.deleteTable(NFTTableRef(family: .ip, name: "swiftlet-proxy"))))
        let dnat = backend.last!.rules.contains { r in r.expressions.contains(.immediate(data: [10, 9, 9, 9], into: .reg(1))) }
        #expect(dnat, "the full resync carries the change that failed")
    }

    @Test func deletedServiceLeavesNothingBehind() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await populate(p, count: 3)
        #expect(await p.sync())
        await p.delete(service: "default", name: "svc1")
        await p.delete(slice: "default", name: "svc1-abc")
        #expect(await p.sync())
        let ops = try #require(backend.last).operations
        let deletedChains = ops.compactMap { op -> String? in if case .deleteChain(_, let n) = op { return n } else { return nil } }
        #expect(deletedChains.count == 1 && deletedChains[0].hasSuffix("default/svc1/tcp/http"))
        // service-ips, cluster-ips, 2 hairpin pairs.
        #expect(backend.last!.elementCount == 4)
        #expect(ops.allSatisfy { if case .addRule = $0 { return false } else { return true } })
    }

    @Test func malformedObjectsAreSkippedByName() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await p.update(service: Fixtures.service("good", ip: "10.96.0.1"))
        await p.update(slice: Fixtures.slice("good", Fixtures.ready("10.1.0.1")))
        await p.update(service: Fixtures.service("badip", ip: "10.96.0.300"))
        await p.update(service: Fixtures.service("port0", ip: "10.96.0.2", ports: "[{port: 0}]"))
        await p.update(service: Fixtures.service("proto", ip: "10.96.0.3", ports: "[{port: 53, protocol: QUIC}]"))
        await p.update(slice: Fixtures.slice("good", Fixtures.ready("10.1.0.999"), name: "good-bad"))
        let errors = await p.invalidObjects.map(\.description)
        #expect(errors.contains { $0.contains("Service default/badip") && $0.contains("spec.clusterIPs[0]") && $0.contains("10.96.0.300") })
        #expect(errors.contains { $0.contains("Service default/port0") && $0.contains("spec.ports[0].port") })
        #expect(errors.contains { $0.contains("Service default/proto") && $0.contains("spec.ports[0].protocol") && $0.contains("QUIC") })
        #expect(errors.contains { $0.contains("EndpointSlice default/good-bad") && $0.contains("endpoints[0].addresses[0]") })
        #expect(await p.sync())
        let names = try #require(backend.last).touchedNames
        #expect(names.contains { $0.hasSuffix("default/good/tcp/http") })
        #expect(!names.contains { $0.contains("badip") || $0.contains("port0") || $0.contains("proto") })
    }

    @Test func headlessAndExternalNameServicesGetNothing() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await p.update(service: Fixtures.service("headless", ip: "None"))
        await p.update(slice: Fixtures.slice("headless", Fixtures.ready("10.1.0.1")))
        #expect(await p.sync())
        #expect(!(backend.last?.touchedNames ?? []).contains { $0.contains("headless") })
    }

    @Test func udpEndpointChangesClearConntrack() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        let udp = "[{name: dns, port: 53, targetPort: 5353, protocol: UDP}]"
        await p.update(service: Fixtures.service("dns", ip: "10.96.0.53", ports: udp))
        #expect(await p.sync())
        // Endpoints appear: flows that hit the service while it had none are cleared.
        await p.update(slice: Fixtures.slice("dns", Fixtures.ready("10.1.0.1", "10.1.0.2"), port: 5353, portName: "dns", proto: "UDP"))
        #expect(await p.sync())
        #expect(backend.conntrack.last == [.destination(address: [10, 96, 0, 53], port: 53)])
        // One endpoint goes: its flows are cleared, the other's are kept.
        await p.update(slice: Fixtures.slice("dns", Fixtures.ready("10.1.0.2"), port: 5353, portName: "dns", proto: "UDP"))
        #expect(await p.sync())
        #expect(backend.conntrack.last == [.destinationAndReplySource(address: [10, 96, 0, 53], port: 53, replySource: [10, 1, 0, 1])])
    }
}

@Suite struct EndpointSelectionTests {
    func port(_ extra: String = "") throws -> ServicePortInfo {
        try #require(try ServicePortInfo.ports(of: Fixtures.service("s", ip: "10.96.0.1", extra: extra)).first)
    }

    func ep(_ ip: String, ready: Bool = true, terminating: Bool = false, node: String? = nil) -> EndpointInfo {
        EndpointInfo(ip: IPAddress(ip)!, port: 80, ready: ready, serving: ready || terminating, terminating: terminating, nodeName: node)
    }

    @Test func terminatingOnlyWhenNoneReady() throws {
        let p = try port()
        let mixed = EndpointSelection.categorize([ep("10.0.0.1"), ep("10.0.0.2", ready: false, terminating: true)], for: p, nodeName: "n")
        #expect(mixed.cluster.map(\.ip.description) == ["10.0.0.1"])
        let draining = EndpointSelection.categorize([ep("10.0.0.2", ready: false, terminating: true), ep("10.0.0.3", ready: false)],
                                                    for: p, nodeName: "n")
        #expect(draining.cluster.map(\.ip.description) == ["10.0.0.2"])
        #expect(draining.hasAny)
        #expect(!EndpointSelection.categorize([ep("10.0.0.3", ready: false)], for: p, nodeName: "n").hasAny)
    }

    @Test func localPolicyUsesOnlyThisNodesEndpoints() throws {
        let p = try #require(try ServicePortInfo.ports(of: Fixtures.service(
            "s", ip: "10.96.0.1", ports: "[{port: 80, nodePort: 30080}]", extra: "type: NodePort, externalTrafficPolicy: Local")).first)
        #expect(p.externalPolicyLocal)
        let sel = EndpointSelection.categorize([ep("10.0.0.1", node: "a"), ep("10.0.0.2", node: "b")], for: p, nodeName: "a")
        #expect(sel.local.map(\.ip.description) == ["10.0.0.1"])
        #expect(sel.cluster.count == 2)
        let itp = try port("internalTrafficPolicy: Local")
        let none = EndpointSelection.categorize([ep("10.0.0.2", node: "b")], for: itp, nodeName: "a")
        #expect(none.local.isEmpty && none.hasAny)
    }
}

@Suite struct ProxierRunLoopTests {
    @Test func runSyncsChangesAtMostOncePerMinSyncPeriod() async throws {
        let backend = RecordingBackend()
        var config = ProxyConfig(nodeName: "node-a")
        config.families = [.ipv4]
        let p = Proxier(config: config, backend: backend, minSyncPeriod: .milliseconds(300), syncPeriod: .seconds(60))
        let loop = Task { await p.run() }
        defer { loop.cancel() }
        try await Task.sleep(for: .milliseconds(100))  // first (full) sync of nothing
        let start = ContinuousClock.now
        for i in 0..<20 {
            await p.update(service: Fixtures.service("svc\(i)", ip: "10.96.0.\(i + 1)"))
            if i % 5 == 4 { try await Task.sleep(for: .milliseconds(50)) }
        }
        try await Task.sleep(for: .milliseconds(700))
        let syncs = await p.syncCount
        let elapsed = ContinuousClock.now - start
        // The bound follows the time that really passed (a loaded machine stretches the sleeps):
        // the first sync, then at most one per 300 ms, and always fewer syncs than changes.
        let allowed = 2 + Int(elapsed / .milliseconds(300))
        #expect(syncs >= 2 && syncs <= allowed && syncs < 20, "syncs: \(syncs) in \(elapsed), allowed \(allowed)")
        // Each endpoint-less service: its ClusterIP in cluster-ips and a reject entry.
        #expect(backend.transactions.map(\.elementCount).reduce(0, +) == 40)
    }
}

@Suite struct DualStackTests {
    @Test func dualStackServiceProgramsBothTables() async throws {
        let backend = RecordingBackend()
        let p = Proxier(config: ProxyConfig(nodeName: "n"), backend: backend, minSyncPeriod: .zero)
        let svc: Service = Fixtures.decode("""
        apiVersion: v1
        kind: Service
        metadata: {name: ds, namespace: default}
        spec: {clusterIPs: [10.96.0.5, "fd00::5"], ipFamilies: [IPv4, IPv6], ports: [{name: http, port: 80}]}
        """)
        await p.update(service: svc)
        await p.update(slice: Fixtures.slice("ds", Fixtures.ready("10.1.0.1")))
        await p.update(slice: Fixtures.decode("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: ds-v6, namespace: default, labels: {kubernetes.io/service-name: ds}}
        addressType: IPv6
        ports: [{name: http, port: 8080}]
        endpoints: [{addresses: ["fd00:1::1"]}, {addresses: ["fd00:1::2"]}]
        """))
        #expect(await p.sync())
        let tx = try #require(backend.last)
        let v6Rules = tx.rules.filter { $0.table.family == .ip6 && $0.chain.hasSuffix("default/ds/tcp/http") }
        let v4Rules = tx.rules.filter { $0.table.family == .ip && $0.chain.hasSuffix("default/ds/tcp/http") }
        #expect(v4Rules.count == 1 && v6Rules.count == 2)
        // IPv4: one endpoint, direct DNAT; IPv6: two endpoints, a 1/2 pick then the other.
        #expect(v4Rules[0].expressions.contains(.immediate(data: [10, 1, 0, 1], into: .reg(1))))
        #expect(v6Rules[0].expressions.contains(.numgen(.random, modulus: 2, offset: 0, into: .reg(1))))
        #expect(v6Rules[0].expressions.contains(.immediate(data: IPAddress("fd00:1::1")!.bytes, into: .reg(1))))
        #expect(v6Rules[1].expressions.contains(.nat(.dnat, family: .ip6, address: .reg(1), port: .reg(2), flags: 0)))
        #expect(!v6Rules[1].expressions.contains { if case .numgen = $0 { return true } else { return false } })
    }
}
