import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Logging
import Testing
@testable import Networking
import Runtime

/// Which plugins a conflist uses: ours or Debian's reference plugins (containernetworking-plugins).
enum PluginSet: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ours, reference
    var testDescription: String { rawValue }

    var available: Bool { self == .ours ? ourPluginsBuilt : referencePluginsInstalled }
    var binDirs: [String] { self == .ours ? [buildDirectory] : [referencePluginDirectory] }

    /// A bridge + host-local + portmap + loopback list. The reference plugins of Debian 12 speak
    /// up to 1.0.0; ours get 1.1.0 so STATUS and GC run too. (The reference bridge refuses an
    /// IPAM default route next to isDefaultGateway, "file exists", so its list has none.)
    func conflist(network: String, bridge: String, subnet: String, dataDir: String) -> String {
        switch self {
        case .ours:
            return #"{"cniVersion":"1.1.0","name":"\#(network)","plugins":[{"type":"swiftlet-bridge","bridge":"\#(bridge)","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"ipam":{"type":"swiftlet-host-local","dataDir":"\#(dataDir)","ranges":[[{"subnet":"\#(subnet)"}]],"routes":[{"dst":"0.0.0.0/0"}]}},{"type":"swiftlet-portmap","capabilities":{"portMappings":true}},{"type":"swiftlet-loopback"}]}"#
        case .reference:
            return #"{"cniVersion":"1.0.0","name":"\#(network)","plugins":[{"type":"bridge","bridge":"\#(bridge)","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"ipam":{"type":"host-local","dataDir":"\#(dataDir)","ranges":[[{"subnet":"\#(subnet)"}]]}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"loopback"}]}"#
        }
    }
}

/// A PodNetwork whose plugins run inside the test's node namespace, with conf, cache and
/// IPAM state in the test's scratch directory.
func makePodNetwork(node: TestNamespace, scratch: String, binDirs: [String], executor: (any PluginExecutor)? = nil,
                    writeDefault: Bool = false, podCIDR: String = "10.88.0.0/16") -> CNIPodNetwork {
    var options = PodNetworkOptions()
    options.confDir = scratch + "/net.d"
    options.cacheDir = scratch + "/cache"
    options.binDirs = binDirs
    options.podCIDR = podCIDR
    options.ipamDataDir = scratch + "/ipam"
    options.writeDefaultConfig = writeDefault
    options.configureHost = false  // the host's sysctls are not the test's to change
    options.searchOwnDirectory = false
    options.executor = executor ?? CNITestMode.executor(node: node)
    return CNIPodNetwork(options: options, logger: Logger(label: "test.networking"))
}

func writeConflist(_ scratch: String, _ text: String, name: String = "10-test.conflist") throws {
    try FileSystem.createDirectory(scratch + "/net.d")
    try FileSystem.write(scratch + "/net.d/" + name, Array(text.utf8))
}

func sandbox(_ id: String, _ ns: TestNamespace, ports: [PortMapping] = []) -> PodNetworkRequest {
    PodNetworkRequest(sandboxID: id, namespace: "default", name: "pod-\(id)", uid: "uid-\(id)", netnsPath: ns.path, portMappings: ports)
}

/// Waits for the kernel to finish something asynchronous (namespace teardown).
func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<150 {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"), .serialized)
struct RuntimeRootTests {
    @Test(arguments: PluginSet.allCases)
    func setUpAndTearDownTwoPods(plugins: PluginSet) async throws {
        guard plugins.available else {
            Issue.record("\(plugins) plugins are not available (build the package; apt install containernetworking-plugins)")
            return
        }
        try await withTestNamespaces(3) { nss, scratch in
            let (node, podA, podB) = (nss[0], nss[1], nss[2])
            let bridge = plugins == .ours ? "swtbr10" : "swtbr11"
            try writeConflist(scratch, plugins.conflist(network: "podnet", bridge: bridge, subnet: "10.71.0.0/24", dataDir: scratch + "/ipam"))
            let network = makePodNetwork(node: node, scratch: scratch, binDirs: plugins.binDirs)
            try await network.networkStatus()
            let a = try await network.attach(sandbox("sbx-a", podA))
            let b = try await network.attach(sandbox("sbx-b", podB, ports: [PortMapping(containerPort: 8080, hostPort: 18080)]))
            #expect(a.podIPs.count == 1 && b.podIPs.count == 1)
            #expect(a.podIPs != b.podIPs)
            #expect(a.podIPs.allSatisfy { $0.hasPrefix("10.71.0.") })
            #expect(a.network == "podnet")
            #expect(try ip("-n", podA.name, "addr", "show", "eth0").contains("inet \(a.podIPs[0])/24"))
            #expect(try ip("-n", podA.name, "link", "show", "lo").contains("UP"), "loopback ran")

            // libcni's cache layout and format.
            let recordPath = scratch + "/cache/results/podnet-sbx-a-eth0"
            let record = try JSON.parse(try FileSystem.readBytes(recordPath))
            #expect(record["kind"] == "cniCacheV1")
            #expect(record["containerId"] == "sbx-a")
            #expect(record["cniArgs"] == [["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", "default"], ["K8S_POD_NAME", "pod-sbx-a"],
                                          ["K8S_POD_INFRA_CONTAINER_ID", "sbx-a"], ["K8S_POD_UID", "uid-sbx-a"]])
            let recordB = try JSON.parse(try FileSystem.readBytes(scratch + "/cache/results/podnet-sbx-b-eth0"))
            #expect(recordB["capabilityArgs"]?["portMappings"]?.arrayValue?.first?["hostPort"] == 18080)

            // Re-adoption: CHECK passes, and the cached attachment gives the IPs at once.
            let checked = try await network.verify(sandboxID: "sbx-a", netnsPath: podA.path)
            #expect(checked.podIPs == a.podIPs)
            #expect(network.cachedAttachment(sandboxID: "sbx-b")?.podIPs == b.podIPs)

            let vethsBefore = try ip("-n", node.name, "-o", "link", "show", "master", bridge).split(separator: "\n").filter { $0.contains("master") }.count
            #expect(vethsBefore == 2)
            try await network.detach(sandboxID: "sbx-a", netnsPath: podA.path)
            try await network.detach(sandboxID: "sbx-b", netnsPath: podB.path)
            #expect(try eventually { try !ip("-n", node.name, "-o", "link", "show", "master", bridge).contains("master") })
            #expect(!FileSystem.exists(recordPath))
            #expect(try FileSystem.listDirectory(scratch + "/ipam/podnet").filter { IPAddress($0) != nil } == [])
            #expect(!(try ip("-n", podB.name, "link").contains("eth0")))
            // Teardown twice is fine.
            try await network.detach(sandboxID: "sbx-a", netnsPath: podA.path)
        }
    }

    @Test func teardownAfterRestartUsesTheRecordedConfigurationAndResult() async throws {
        guard ourPluginsBuilt else { Issue.record("build the package first"); return }
        try await withTestNamespaces(2) { nss, scratch in
            let (node, pod) = (nss[0], nss[1])
            try writeConflist(scratch, PluginSet.ours.conflist(network: "restart", bridge: "swtbr12", subnet: "10.73.0.0/24", dataDir: scratch + "/ipam"))
            let first = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory])
            let attachment = try await first.attach(sandbox("sbx-r", pod))

            // The agent dies; meanwhile the conf dir is broken. A new instance must still DEL
            // with what ADD used, passing the cached result as prevResult.
            try writeConflist(scratch, "{ this is not json")
            let recorder = RecordingExecutor { _, _, _ in succeed() }
            let second = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: PassThroughRecorder(node: node, recorder: recorder))
            #expect(second.cachedAttachment(sandboxID: "sbx-r")?.podIPs == attachment.podIPs)
            try await second.detach(sandboxID: "sbx-r", netnsPath: pod.path)
            let calls = recorder.recorded
            #expect(calls.map(\.plugin) == ["swiftlet-loopback", "swiftlet-portmap", "swiftlet-bridge"])
            for call in calls {
                #expect(call.command == "DEL")
                #expect(call.stdin["prevResult"]?["ips"]?.arrayValue?.first?["address"]?.stringValue == attachment.podIPs[0] + "/24")
                #expect(call.environment.contains("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-sbx-r;K8S_POD_INFRA_CONTAINER_ID=sbx-r;K8S_POD_UID=uid-sbx-r"))
            }
            #expect(!(try ip("-n", pod.name, "link").contains("eth0")))
            #expect(!FileSystem.exists(scratch + "/cache/results/restart-sbx-r-eth0"))
        }
    }

    @Test func failedAddIsUndoneAndReportedWithThePluginError() async throws {
        guard ourPluginsBuilt else { Issue.record("build the package first"); return }
        try await withTestNamespaces(3) { nss, scratch in
            let (node, podA, podB) = (nss[0], nss[1], nss[2])
            // A chain whose second plugin fails ADD: the bridge's veth and address must go.
            let fixtures = scratch + "/fixtures"
            try FileSystem.createDirectory(fixtures)
            try FileSystem.write(fixtures + "/failing", Array("""
                #!/bin/sh
                cat >/dev/null
                if [ "$CNI_COMMAND" = ADD ]; then
                  echo '{"cniVersion":"1.1.0","code":102,"msg":"fixture refuses","details":"always"}'
                  exit 1
                fi
                exit 0

                """.utf8), mode: 0o755)
            try writeConflist(scratch, #"{"cniVersion":"1.1.0","name":"failing","plugins":[{"type":"swiftlet-bridge","bridge":"swtbr13","isGateway":true,"ipam":{"type":"swiftlet-host-local","dataDir":"\#(scratch)/ipam","ranges":[[{"subnet":"10.74.0.0/30"}]]}},{"type":"failing"}]}"#)
            let network = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory, fixtures])
            let error = await #expect(throws: PodNetworkError.self) { try await network.attach(sandbox("sbx-f", podA)) }
            #expect(error?.cniCode == 102)
            #expect(error?.description == "CNI plugin failing failed (ADD) on network \"failing\": CNI error 102 (plugin-specific error): fixture refuses: always")
            #expect(!(try ip("-n", podA.name, "link").contains("eth0")))
            #expect(try !ip("-n", node.name, "-o", "link", "show", "master", "swtbr13").contains("master"))
            #expect(try FileSystem.listDirectory(scratch + "/ipam/failing").filter { IPAddress($0) != nil } == [])
            #expect(!FileSystem.exists(scratch + "/cache/results/failing-sbx-f-eth0"))

            // An exhausted range (a /30 has one address besides the gateway) is the pod's error.
            try writeConflist(scratch, PluginSet.ours.conflist(network: "tiny", bridge: "swtbr13", subnet: "10.74.0.0/30", dataDir: scratch + "/ipam"))
            _ = try await network.attach(sandbox("sbx-1", podA))
            let full = await #expect(throws: PodNetworkError.self) { try await network.attach(sandbox("sbx-2", podB)) }
            #expect(full?.cniCode == CNIError.tryAgainLater)
            #expect(full?.description.contains("no IP addresses available in range set: 10.74.0.1-10.74.0.2") == true)
            #expect(!(try ip("-n", podB.name, "link").contains("eth0")))
            let status = await #expect(throws: PodNetworkError.self) { try await network.networkStatus() }
            #expect(status?.cniCode == CNIError.pluginNotAvailable)
            try await network.detach(sandboxID: "sbx-1", netnsPath: podA.path)
            try await network.networkStatus()
        }
    }

    @Test func malformedConfigurationAndMissingPluginAreClearErrors() async throws {
        try await withTestNamespaces(2) { nss, scratch in
            let network = makePodNetwork(node: nss[0], scratch: scratch, binDirs: [scratch + "/nobin"])
            #expect(await #expect(throws: PodNetworkError.self) { try await network.networkStatus() }
                    == .noConfiguration(directory: scratch + "/net.d"))
            try writeConflist(scratch, #"{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge","mtu":1500}"#)
            let malformed = await #expect(throws: PodNetworkError.self) { try await network.attach(sandbox("sbx-m", nss[1])) }
            #expect(malformed?.description.hasPrefix("invalid CNI network configuration \(scratch)/net.d/10-test.conflist: invalid JSON") == true)
            try writeConflist(scratch, #"{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"nonexistent-plugin"}]}"#)
            let missing = await #expect(throws: PodNetworkError.self) { try await network.attach(sandbox("sbx-m", nss[1])) }
            #expect(missing == .pluginNotFound(type: "nonexistent-plugin", searchPath: [scratch + "/nobin"]))
            #expect(await #expect(throws: PodNetworkError.self) { try await network.networkStatus() } == missing)
        }
    }

    @Test func defaultNetworkIsWrittenAndWorks() async throws {
        guard ourPluginsBuilt else { Issue.record("build the package first"); return }
        try await withTestNamespaces(2) { nss, scratch in
            let network = makePodNetwork(node: nss[0], scratch: scratch, binDirs: [buildDirectory], writeDefault: true, podCIDR: "10.89.0.0/24")
            let list = try await network.prepare()
            #expect(list.name == "swiftlet")
            #expect(list.source == scratch + "/net.d/10-swiftlet.conflist")
            let written = try FileSystem.readBytes(scratch + "/net.d/10-swiftlet.conflist")
            _ = try await network.prepare()
            #expect(try FileSystem.readBytes(scratch + "/net.d/10-swiftlet.conflist") == written, "not rewritten")
            let attachment = try await network.attach(sandbox("sbx-d", nss[1]))
            #expect(attachment.podIPs.first?.hasPrefix("10.89.0.") == true)
            #expect(try ip("-n", nss[0].name, "addr", "show", "swiftlet0").contains("inet 10.89.0.1/24"))
            try await network.detach(sandboxID: "sbx-d", netnsPath: nss[1].path)
            #expect(try FileSystem.listDirectory(scratch + "/ipam/swiftlet").filter { IPAddress($0) != nil } == [])
        }
    }

    @Test func garbageCollectionRemovesWhatIsNotValid() async throws {
        guard ourPluginsBuilt else { Issue.record("build the package first"); return }
        try await withTestNamespaces(4) { nss, scratch in
            let (node, keep, stale, orphan) = (nss[0], nss[1], nss[2], nss[3])
            let conflist = PluginSet.ours.conflist(network: "gcnet", bridge: "swtbr14", subnet: "10.75.0.0/24", dataDir: scratch + "/ipam")
            try writeConflist(scratch, conflist)
            let network = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory])
            let kept = try await network.attach(sandbox("sbx-keep", keep))
            _ = try await network.attach(sandbox("sbx-stale", stale))
            // An attachment the runtime never recorded (plugin state only).
            let plugin = try JSON.parse(conflist)["plugins"]?.arrayValue?.first
            guard case .object(var single)? = plugin else { Issue.record("no plugin"); return }
            single["name"] = "gcnet"
            single["cniVersion"] = "1.1.0"
            #expect(try runPlugin("swiftlet-bridge", "ADD", config: JSON.object(single).text, containerID: "sbx-orphan",
                                  netns: orphan.path, in: node).status == .exited(0))
            let failures = try await network.garbageCollect(validSandboxIDs: ["sbx-keep"])
            #expect(failures == [])
            let left = try FileSystem.listDirectory(scratch + "/ipam/gcnet").filter { IPAddress($0) != nil }
            #expect(left == kept.podIPs)
            #expect(!(try ip("-n", stale.name, "link").contains("eth0")))
            #expect(try ip("-n", keep.name, "link").contains("eth0"))
            #expect(FileSystem.exists(scratch + "/cache/results/gcnet-sbx-keep-eth0"))
            #expect(!FileSystem.exists(scratch + "/cache/results/gcnet-sbx-stale-eth0"))
            try await network.detach(sandboxID: "sbx-keep", netnsPath: keep.path)
        }
    }

    @Test func hostSetupTouchesOnlyForwardingInItsNamespace() throws {
        try withTestNamespaces(1) { nss, _ in
            let hostBefore = try Sysctl.read("net.ipv4.ip_forward")
            // A new namespace starts with forwarding off or, on some kernels, copied from the host's.
            let (initial, changes) = try NetworkNamespace.run(nss[0].path) { () throws -> (String, (HostNetworkSetup.Changes, String, HostNetworkSetup.Changes)) in
                let initial = try Sysctl.read("net.ipv4.ip_forward")
                let first = try HostNetworkSetup.apply(podCIDR: "10.88.0.0/16", bridgeNetfilter: false, logger: Logger(label: "test"))
                return (initial, (first, try Sysctl.read("net.ipv4.ip_forward"),
                        try HostNetworkSetup.apply(podCIDR: "10.88.0.0/16", bridgeNetfilter: false, logger: Logger(label: "test"))))
            }
            #expect(changes.0.changed == (initial == "1" ? [] : ["net.ipv4.ip_forward"]))
            #expect(changes.1 == "1")
            #expect(changes.2.changed == [])
            #expect(try Sysctl.read("net.ipv4.ip_forward") == hostBefore)
        }
    }
}

/// Spawns the real plugin in the node namespace and records the call.
struct PassThroughRecorder: PluginExecutor {
    let node: TestNamespace
    let recorder: RecordingExecutor

    func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result {
        _ = try? recorder.execute(path: path, environment: environment, stdin: [])
        let result = try SpawnExecutor(networkNamespace: node.path).execute(path: path, environment: environment, stdin: stdin)
        // Keep the real stdin in the record.
        recorder.calls.withLock { calls in
            if let last = calls.popLast() {
                calls.append(RecordingExecutor.Call(plugin: last.plugin, command: last.command, environment: last.environment,
                                                    stdin: (try? JSON.parse(stdin)) ?? .null))
            }
        }
        return result
    }
}

@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"), .enabled(if: ourPluginsBuilt, "build the package first"))
struct RuntimeAdapterRootTests {
    /// What the runtime sees through `Runtime.PodNetwork`.
    @Test func runtimeProtocolConformance() async throws {
        try await withTestNamespaces(3) { nss, scratch in
            let (node, pod, other) = (nss[0], nss[1], nss[2])
            let network: any PodNetwork = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory])
            #expect(await network.readiness() == "no CNI network configuration found in \(scratch)/net.d")
            try writeConflist(scratch, PluginSet.ours.conflist(network: "adapter", bridge: "swtbr15", subnet: "10.78.0.0/24", dataDir: scratch + "/ipam"))
            #expect(await network.readiness() == nil)
            let request = sandbox("sbx-ad", pod, ports: [PortMapping(containerPort: 80, hostPort: 0)])
            let status = try await network.setUp(request)
            #expect(status.interfaceName == "eth0")
            #expect(status.ips.count == 1 && status.ips[0].hasPrefix("10.78.0."))
            #expect(await network.check(request))
            // Broken wiring: the pod lost its address.
            let podSock = try RouteSocket.inNamespace(pod.path)
            let eth0 = try podSock.requireLink(named: "eth0")
            try podSock.deleteAddress(index: eth0.index, try #require(IPNetwork(status.ips[0] + "/24")))
            #expect(await !network.check(request))
            _ = try await network.setUp(sandbox("sbx-gone", other))
            await network.garbageCollect(valid: [request])
            #expect(!(try ip("-n", other.name, "link").contains("eth0")))
            try await network.tearDown(request)
            try await network.tearDown(request)
            #expect(!(try ip("-n", pod.name, "link").contains("eth0")))
        }
    }
}
