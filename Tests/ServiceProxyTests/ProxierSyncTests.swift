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
        // svc2 (10.96.0.3): dispatched to the shared two-endpoint chain, its endpoints in slots.
        let tx = backend.last!
        #expect(tx.elements(in: "service-ips").contains {
            $0.key == [10, 96, 0, 3, 6, 0, 0, 0, 0, 80, 0, 0] && $0.value == .verdict(.goto("service-pick-2")) })
        let slots = tx.elements(in: "service-endpoints").filter { $0.key.starts(with: [10, 96, 0, 3, 6, 0, 0, 0, 0, 80, 0, 0]) }
        #expect(Set(slots.map(\.value)) == [.data([10, 1, 0, 3, 0x1f, 0x90, 0, 0]), .data([10, 2, 0, 3, 0x1f, 0x90, 0, 0])])
        #expect(tx.operations.contains(.addChain(NFTChain(table: NFTTableRef(family: .ip, name: "swiftlet-proxy"), name: "service-pick-2"))))
        // No chain of any service's own: ordinary services are map elements only.
        #expect(!tx.touchedNames.contains { $0.contains("/") })
    }

    @Test func oneServiceChangeTouchesOnlyThatServiceAndIsFlat() async throws {
        var sizes: [Int] = []
        for count in [10, 300] {
            let backend = RecordingBackend()
            let p = proxier(backend)
            await populate(p, count: count)
            #expect(await p.sync())
            // An endpoint replaced: element replacements only, no chain or rule touched.
            await p.update(slice: Fixtures.slice("svc7", Fixtures.ready("10.1.0.8", "10.2.9.8")))
            #expect(await p.sync())
            let replaced = try #require(backend.last)
            #expect(replaced.rules.isEmpty && !replaced.operations.contains { if case .addChain = $0 { true } else { false } })
            // Slot 1 (10.2.0.8 -> 10.2.9.8) and the hairpin pair: a delete and an add each.
            #expect(replaced.elementCount == 4, "\(replaced.operations)")
            #expect(replaced.elements(in: "service-endpoints").map(\.key) == [[10, 96, 0, 8, 6, 0, 0, 0, 0, 80, 0, 0, 1, 0, 0, 0],
                                                                             [10, 96, 0, 8, 6, 0, 0, 0, 0, 80, 0, 0, 1, 0, 0, 0]])
            // A third endpoint: a new slot, and the dispatch verdict moves to the shared
            // three-endpoint chain (made by the full sync, as for every count up to 16).
            await p.update(slice: Fixtures.slice("svc7", Fixtures.ready("10.1.0.8", "10.2.9.8", "10.3.0.8")))
            #expect(await p.sync())
            let grown = try #require(backend.last)
            #expect(backend.transactions.count == 3)
            #expect(!grown.touchedNames.contains { $0.contains("/") })
            #expect(grown.elements(in: "service-ips").map(\.value) == [nil, .verdict(.goto("service-pick-3"))])
            #expect(grown.rules.isEmpty)
            #expect(grown.elementCount == 4)  // dispatch delete + add, the new slot, its hairpin pair
            sizes.append(grown.count + replaced.count)
            // Seventeen endpoints: a shape not prepared; its chain is made once, for everyone.
            let many = (1...17).map { "10.7.\($0).1" }
            await p.update(slice: Fixtures.slice("svc8", many.map { ($0, true, false, nil) }))
            #expect(await p.sync())
            #expect(backend.last?.rules.map(\.chain) == ["service-pick-17"])
            await p.update(slice: Fixtures.slice("svc9", many.map { ($0, true, false, nil) }))
            #expect(await p.sync())
            #expect(backend.last?.rules.isEmpty == true, "the 17-endpoint chain exists already")
        }
        #expect(sizes[0] == sizes[1], "transaction size must not grow with the number of services: \(sizes)")
    }

    @Test func affinityServicesKeepChainsOfTheirOwn() async throws {
        let backend = RecordingBackend()
        let p = proxier(backend)
        await p.update(service: Fixtures.service("sticky", ip: "10.96.0.9", extra: "sessionAffinity: ClientIP"))
        await p.update(slice: Fixtures.slice("sticky", Fixtures.ready("10.1.0.1", "10.1.0.2")))
        #expect(await p.sync())
        let tx = try #require(backend.last)
        let chain = try #require(tx.elements(in: "service-ips").first?.value)
        guard case .verdict(.goto(let name)) = chain else { Issue.record("dispatch: \(chain)"); return }
        #expect(name.hasSuffix("default/sticky/tcp/http"))
        #expect(tx.rules.filter { $0.chain == name }.count == 4)  // two affinity checks, two picks
        #expect(tx.operations.filter { if case .addSet(let s) = $0 { s.timeoutMilliseconds == 10_800_000 } else { false } }.count == 2)
        #expect(tx.elements(in: "service-endpoints").isEmpty)
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
        let slot = backend.last!.elements(in: "service-endpoints").contains { $0.value == .data([10, 9, 9, 9, 0x1f, 0x90, 0, 0]) }
        #expect(slot, "the full resync carries the change that failed")
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
        #expect(!ops.contains { if case .deleteChain = $0 { true } else { false } })
        // service-ips, cluster-ips, 2 endpoint slots, 2 hairpin pairs.
        #expect(backend.last!.elementCount == 6)
        #expect(backend.last!.elements(in: "service-endpoints").allSatisfy { $0.key.starts(with: [10, 96, 0, 2]) })
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
        let dispatched = try #require(backend.last).elements(in: "service-ips").map { Array($0.key.prefix(4)) }
        #expect(dispatched == [[10, 96, 0, 1]], "only the good service: \(dispatched)")
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
        let v4 = tx.elements(in: "service-endpoints", family: .ip), v6 = tx.elements(in: "service-endpoints", family: .ip6)
        #expect(v4.map(\.value) == [.data([10, 1, 0, 1, 0x1f, 0x90, 0, 0])])
        #expect(v6.count == 2 && v6.allSatisfy { $0.key.starts(with: IPAddress("fd00::5")!.bytes) && $0.key.count == 28 })
        #expect(v6.contains { $0.value == .data(IPAddress("fd00:1::2")!.bytes + [0x1f, 0x90, 0, 0]) })
        #expect(tx.elements(in: "service-ips", family: .ip).map(\.value) == [.verdict(.goto("service-pick-1"))])
        #expect(tx.elements(in: "service-ips", family: .ip6).map(\.value) == [.verdict(.goto("service-pick-2"))])
        // The IPv6 pick: 28-byte key (address, proto, port, slot), the value's port after 16 address bytes.
        let pick = try #require(tx.rules.first { $0.table.family == .ip6 && $0.chain == "service-pick-2" })
        #expect(pick.expressions.contains(.numgen(.random, modulus: 2, offset: 0, into: .reg32(6))))
        #expect(pick.expressions.contains(.nat(.dnat, family: .ip6, address: .reg(1), port: .reg32(4), flags: 0)))
    }
}
