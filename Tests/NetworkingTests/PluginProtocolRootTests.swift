import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Testing

/// Our plugins driven by the CNI protocol alone (environment variables + stdin), the way any
/// spec-conformant runtime would, inside namespaces the tests make.
@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"),
       .enabled(if: ourPluginsBuilt, "build the package first (swift build): plugin executables missing"))
struct PluginProtocolRootTests {
    func bridgeConfig(bridge: String, ranges: String, dataDir: String, version: String = "1.1.0", network: String = "testnet",
                      extra: String = "", ipam: String = "swiftlet-host-local") -> String {
        #"{"cniVersion":"\#(version)","name":"\#(network)","type":"swiftlet-bridge","bridge":"\#(bridge)","isGateway":true,"isDefaultGateway":true,"hairpinMode":true\#(extra),"ipam":{"type":"\#(ipam)","dataDir":"\#(dataDir)","ranges":\#(ranges),"routes":[{"dst":"0.0.0.0/0"}]}}"#
    }

    func validResult(_ run: Subprocess.Result) throws -> JSON {
        #expect(run.status == .exited(0), "stdout: \(run.stdoutText) stderr: \(run.stderrText)")
        let document = try #require(run.json, "result is JSON: \(run.stdoutText)")
        #expect(ResultSchema.violations(document, schema: ResultSchema.result) == [])
        #expect(ResultSchema.semanticViolations(document) == [])
        return document
    }

    func withPrevResult(_ config: String, _ result: JSON) throws -> String {
        guard case .object(var object) = try JSON.parse(config) else { return config }
        object["prevResult"] = result
        return JSON.object(object).text
    }

    @Test func twoPodsGetDistinctAddressesAndDelCleansUp() throws {
        try withTestNamespaces(3) { nss, scratch in
            let (node, podA, podB) = (nss[0], nss[1], nss[2])
            let config = bridgeConfig(bridge: "swtbr1", ranges: #"[[{"subnet":"10.66.0.0/24"}]]"#, dataDir: scratch)
            let a = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "ctr-a", netns: podA.path, in: node))
            let b = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "ctr-b", netns: podB.path, in: node))
            let ipA = try #require(a["ips"]?.arrayValue?.first?["address"]?.stringValue)
            let ipB = try #require(b["ips"]?.arrayValue?.first?["address"]?.stringValue)
            #expect(ipA != ipB)
            #expect(ipA.hasPrefix("10.66.0.") && ipB.hasPrefix("10.66.0."))
            #expect(a["ips"]?.arrayValue?.first?["gateway"] == "10.66.0.1")
            #expect(a["interfaces"]?.arrayValue?.count == 3)
            #expect(a["interfaces"]?.arrayValue?[2]["sandbox"]?.stringValue == podA.path)

            // What the kernel shows.
            let hostVethA = try #require(a["interfaces"]?.arrayValue?[1]["name"]?.stringValue)
            #expect(try ip("-n", node.name, "-d", "link", "show", "swtbr1").contains("bridge"))
            #expect(try ip("-n", node.name, "addr", "show", "swtbr1").contains("inet 10.66.0.1/24"))
            let vethDetails = try ip("-n", node.name, "-d", "link", "show", hostVethA)
            #expect(vethDetails.contains("master swtbr1"))
            #expect(vethDetails.contains("hairpin on"))
            #expect(try ip("-n", podA.name, "addr", "show", "eth0").contains("inet \(ipA)"))
            #expect(try ip("-n", podA.name, "route").contains("default via 10.66.0.1 dev eth0"))
            let ipFileA = scratch + "/testnet/" + (ipA.split(separator: "/").first.map(String.init) ?? "")
            #expect(try FileSystem.readString(ipFileA) == "ctr-a\r\neth0")

            // CHECK passes as ADD left it, fails once the pod's address is gone.
            #expect(try runPlugin("swiftlet-bridge", "CHECK", config: try withPrevResult(config, a), containerID: "ctr-a",
                                  netns: podA.path, in: node).status == .exited(0))
            let podSock = try RouteSocket.inNamespace(podA.path)
            let eth0 = try podSock.requireLink(named: "eth0")
            try podSock.deleteAddress(index: eth0.index, try #require(IPNetwork(ipA)))
            let broken = try runPlugin("swiftlet-bridge", "CHECK", config: try withPrevResult(config, a), containerID: "ctr-a", netns: podA.path, in: node)
            #expect(broken.status == .exited(1))
            #expect(broken.json?["msg"]?.stringValue?.contains(ipA) == true)

            // DEL releases the address and removes the veth; DEL again is fine.
            let del = try runPlugin("swiftlet-bridge", "DEL", config: try withPrevResult(config, a), containerID: "ctr-a", netns: podA.path, in: node)
            #expect(del.status == .exited(0), "\(del.stdoutText)")
            #expect(del.stdout.isEmpty)
            #expect(!FileSystem.exists(ipFileA))
            // The pod's interface is out of service at once; the kernel's deletion finishes
            // in the plugin's afterlife child moments later.
            #expect(try eventually { try ip("-n", node.name, "link", "show", hostVethA).contains("does not exist") })
            #expect(!(try ip("-n", podA.name, "link").contains("eth0")))
            #expect(try runPlugin("swiftlet-bridge", "DEL", config: config, containerID: "ctr-a", netns: podA.path, in: node).status == .exited(0))

            // DEL after the pod's namespace is gone still releases the address.
            let hostVethB = try #require(b["interfaces"]?.arrayValue?[1]["name"]?.stringValue)
            try NetworkNamespace.remove(pinnedAt: podB.path)
            #expect(try runPlugin("swiftlet-bridge", "DEL", config: config, containerID: "ctr-b", netns: podB.path, in: node).status == .exited(0))
            #expect(try FileSystem.listDirectory(scratch + "/testnet").filter { IPAddress($0) != nil } == [])
            // The kernel removes a dead namespace's veth pair asynchronously.
            #expect(try eventually { try ip("-n", node.name, "link", "show", hostVethB).contains("does not exist") })
        }
    }

    @Test func exhaustedRangeIsTheSpecErrorAndLeavesNothingBehind() throws {
        try withTestNamespaces(4) { nss, scratch in
            let node = nss[0]
            let config = bridgeConfig(bridge: "swtbr2", ranges: #"[[{"subnet":"10.67.0.0/29","rangeStart":"10.67.0.2","rangeEnd":"10.67.0.3"}]]"#,
                                      dataDir: scratch)
            let first = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "c1", netns: nss[1].path, in: node))
            _ = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "c2", netns: nss[2].path, in: node))
            let third = try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "c3", netns: nss[3].path, in: node)
            #expect(third.status == .exited(1))
            let error = try #require(third.json)
            #expect(ResultSchema.violations(error, schema: ResultSchema.error) == [])
            #expect(error["code"] == .int(Int64(CNIError.tryAgainLater)))
            #expect(error["msg"]?.stringValue == "no IP addresses available in range set: 10.67.0.2-10.67.0.3")
            // The failed ADD removed its veth: two pods, two host ends.
            usleep(100_000)
            let ports = try ip("-n", node.name, "-o", "link", "show", "master", "swtbr2")
            #expect(ports.split(separator: "\n").filter { $0.contains("master swtbr2") }.count == 2, "\(ports)")
            #expect(!(try ip("-n", nss[3].name, "link").contains("eth0")))
            // STATUS says the plugin cannot take more pods.
            let status = try runPlugin("swiftlet-bridge", "STATUS", config: config, in: node)
            #expect(status.status == .exited(1))
            #expect(status.json?["code"] == .int(Int64(CNIError.pluginNotAvailable)))
            // Freeing one address makes room again.
            #expect(try runPlugin("swiftlet-bridge", "DEL", config: config, containerID: "c1", netns: nss[1].path, in: node).status == .exited(0))
            let again = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "c3", netns: nss[3].path, in: node))
            #expect(again["ips"]?.arrayValue?.first?["address"] == first["ips"]?.arrayValue?.first?["address"])
            #expect(try runPlugin("swiftlet-bridge", "STATUS", config: config, in: node).status == .exited(1))
        }
    }

    @Test func dualStackWithoutDuplicateAddressDetectionDelay() throws {
        try withTestNamespaces(2) { nss, scratch in
            let config = bridgeConfig(bridge: "swtbr3", ranges: #"[[{"subnet":"10.68.0.0/24"}],[{"subnet":"fd00:68::/64"}]]"#, dataDir: scratch)
            let result = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "dual", netns: nss[1].path, in: nss[0]))
            let addresses = result["ips"]?.arrayValue?.compactMap { $0["address"]?.stringValue } ?? []
            #expect(addresses.count == 2)
            #expect(addresses.contains { $0.hasPrefix("fd00:68::") && $0.hasSuffix("/64") })
            let shown = try ip("-n", nss[1].name, "addr", "show", "eth0")
            #expect(shown.contains("inet6 fd00:68::"))
            #expect(!shown.contains("tentative"), "DAD is off on the fresh veth: \(shown)")
            #expect(try ip("-n", nss[0].name, "addr", "show", "swtbr3").contains("inet6 fd00:68::1/64"))
            #expect(try runPlugin("swiftlet-bridge", "DEL", config: config, containerID: "dual", netns: nss[1].path, in: nss[0]).status == .exited(0))
        }
    }

    @Test func garbageCollectionKeepsOnlyValidAttachments() throws {
        try withTestNamespaces(3) { nss, scratch in
            let config = bridgeConfig(bridge: "swtbr4", ranges: #"[[{"subnet":"10.69.0.0/24"}]]"#, dataDir: scratch)
            let keep = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "keep", netns: nss[1].path, in: nss[0]))
            _ = try validResult(try runPlugin("swiftlet-bridge", "ADD", config: config, containerID: "stale", netns: nss[2].path, in: nss[0]))
            guard case .object(var gc) = try JSON.parse(config) else { return }
            gc["cni.dev/valid-attachments"] = [["containerID": "keep", "ifname": "eth0"]]
            let run = try runPlugin("swiftlet-bridge", "GC", config: JSON.object(gc).text, in: nss[0])
            #expect(run.status == .exited(0), "\(run.stdoutText)")
            let files = try FileSystem.listDirectory(scratch + "/testnet").filter { IPAddress($0) != nil }
            let kept = keep["ips"]?.arrayValue?.first?["address"]?.stringValue?.split(separator: "/").first.map(String.init)
            #expect(files == [kept].compactMap { $0 })
        }
    }

    @Test func loopbackBringsLoUpAndPassesPrevResultOn() throws {
        try withTestNamespaces(2) { nss, _ in
            let config = #"{"cniVersion":"1.1.0","name":"lo","type":"swiftlet-loopback"}"#
            let result = try validResult(try runPlugin("swiftlet-loopback", "ADD", config: config, containerID: "lo1", netns: nss[1].path, in: nss[0]))
            #expect(result["interfaces"]?.arrayValue?.first?["name"] == "lo")
            #expect(result["ips"]?.arrayValue?.contains { $0["address"] == "127.0.0.1/8" } == true)
            #expect(try ip("-n", nss[1].name, "link", "show", "lo").contains("UP"))
            let chained = #"{"cniVersion":"1.1.0","name":"lo","type":"swiftlet-loopback","prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.1.1.5/24"}]}}"#
            let passed = try validResult(try runPlugin("swiftlet-loopback", "ADD", config: chained, containerID: "lo1", netns: nss[1].path, in: nss[0]))
            #expect(passed["ips"]?.arrayValue?.first?["address"] == "10.1.1.5/24")
            #expect(try runPlugin("swiftlet-loopback", "CHECK", config: chained, containerID: "lo1", netns: nss[1].path, in: nss[0]).status == .exited(0))
            #expect(try runPlugin("swiftlet-loopback", "DEL", config: config, containerID: "lo1", netns: nss[1].path, in: nss[0]).status == .exited(0))
            #expect(!(try ip("-n", nss[1].name, "link", "show", "lo").contains(",UP")))
            #expect(try runPlugin("swiftlet-loopback", "DEL", config: config, containerID: "lo1", netns: "/run/netns/gone", in: nss[0]).status == .exited(0))
        }
    }

    @Test(arguments: ["swiftlet-bridge", "swiftlet-host-local", "swiftlet-loopback", "swiftlet-portmap"])
    func versionAndErrorsFollowTheSpec(plugin: String) throws {
        try withTestNamespaces(1) { nss, _ in
            let version = try runPlugin(plugin, "VERSION", config: #"{"cniVersion":"1.0.0"}"#, in: nss[0])
            #expect(version.status == .exited(0))
            let info = try #require(version.json)
            #expect(ResultSchema.violations(info, schema: ResultSchema.version) == [])
            #expect(info["supportedVersions"]?.arrayValue?.contains("1.1.0") == true)
            #expect(info["cniVersion"] == "1.0.0")

            let garbage = try runPlugin(plugin, "ADD", config: "{not json", containerID: "x", netns: nss[0].path, in: nss[0])
            #expect(garbage.status == .exited(1))
            let error = try #require(garbage.json)
            #expect(ResultSchema.violations(error, schema: ResultSchema.error) == [])
            #expect(error["code"] == .int(Int64(CNIError.decodeFailure)))

            let noEnv = try runPlugin(plugin, "ADD", config: #"{"cniVersion":"1.0.0","name":"n","type":"t"}"#, in: nss[0])
            #expect(noEnv.json?["code"] == .int(Int64(CNIError.invalidEnvironment)))
            let oldVersion = try runPlugin(plugin, "ADD", config: #"{"cniVersion":"0.2.0","name":"n","type":"t"}"#, containerID: "x",
                                           netns: nss[0].path, in: nss[0])
            #expect(oldVersion.json?["code"] == .int(Int64(CNIError.incompatibleVersion)))
        }
    }

    @Test func hostLocalStateSurvivesProcessesAndReleasesOnDel() throws {
        try withTestNamespaces(1) { nss, scratch in
            let config = #"{"cniVersion":"1.0.0","name":"ipamonly","type":"swiftlet-bridge","ipam":{"type":"swiftlet-host-local","dataDir":"\#(scratch)","ranges":[[{"subnet":"10.70.0.0/24","gateway":"10.70.0.254"}]]}}"#
            var seen: [String] = []
            for id in ["p1", "p2", "p3"] {
                let run = try runPlugin("swiftlet-host-local", "ADD", config: config, containerID: id, netns: "/x", in: nss[0])
                let document = try validResult(run)
                #expect(document["interfaces"] == nil, "IPAM results carry no interfaces")
                #expect(document["ips"]?.arrayValue?.first?["gateway"] == "10.70.0.254")
                seen.append(try #require(document["ips"]?.arrayValue?.first?["address"]?.stringValue))
            }
            #expect(seen == ["10.70.0.1/24", "10.70.0.2/24", "10.70.0.3/24"])
            let duplicate = try runPlugin("swiftlet-host-local", "ADD", config: config, containerID: "p1", netns: "/x", in: nss[0])
            #expect(duplicate.status == .exited(1))
            #expect(try runPlugin("swiftlet-host-local", "DEL", config: config, containerID: "p2", in: nss[0]).status == .exited(0))
            #expect(!FileSystem.exists(scratch + "/ipamonly/10.70.0.2"))
            // Round-robin: the next allocation goes after the last one, not into the hole.
            let next = try validResult(try runPlugin("swiftlet-host-local", "ADD", config: config, containerID: "p4", netns: "/x", in: nss[0]))
            #expect(next["ips"]?.arrayValue?.first?["address"] == "10.70.0.4/24")
            #expect(try runPlugin("swiftlet-host-local", "CHECK", config: try withPrevResult(config, next),
                                  containerID: "p4", netns: "/x", in: nss[0]).status == .exited(0))
        }
    }
}

/// Our bridge with the reference IPAM and the reference bridge with ours: each side speaks the
/// protocol the other expects (delegation through CNI_PATH, results in the config's version).
@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"),
       .enabled(if: ourPluginsBuilt && referencePluginsInstalled, "needs our plugins built and containernetworking-plugins installed"))
struct MixedPluginRootTests {
    func config(bridge type: String, name: String, ipam: String, dataDir: String, subnet: String) -> String {
        #"{"cniVersion":"1.0.0","name":"\#(name)","type":"\#(type)","bridge":"\#(name)0","isGateway":true,"ipam":{"type":"\#(ipam)","dataDir":"\#(dataDir)","ranges":[[{"subnet":"\#(subnet)"}]]}}"#
    }

    @Test(arguments: [("swiftlet-bridge", "host-local", ""), ("bridge", "swiftlet-host-local", ""), ("swiftlet-bridge", "swiftlet-host-local", "SWIFTLET_IPAM_EXEC=1")])
    func delegationAcrossImplementations(bridge: String, ipam: String, environment: String) throws {
        try withTestNamespaces(2) { nss, scratch in
            let (node, pod) = (nss[0], nss[1])
            let text = config(bridge: bridge, name: "mix" + RandomBytes.hex(4), ipam: ipam, dataDir: scratch, subnet: "10.79.0.0/24")
            let path = buildDirectory + ":" + referencePluginDirectory
            let binary = (bridge == "bridge" ? referencePluginDirectory : buildDirectory) + "/" + bridge
            let environmentList = ["CNI_CONTAINERID=mixed", "CNI_NETNS=" + pod.path, "CNI_IFNAME=eth0", "CNI_PATH=" + path,
                                   "PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + (environment.isEmpty ? [] : [environment])
            func run(_ command: String, _ stdin: String) throws -> Subprocess.Result {
                try NetworkNamespace.run(node.path) {
                    try Subprocess.run(binary, arguments: [bridge], environment: environmentList + ["CNI_COMMAND=" + command], input: Array(stdin.utf8))
                }
            }
            let add = try run("ADD", text)
            #expect(add.status == .exited(0), "\(add.stdoutText) \(add.stderrText)")
            let result = try #require(add.json)
            #expect(ResultSchema.violations(result, schema: ResultSchema.result) == [])
            let address = try #require(result["ips"]?.arrayValue?.first?["address"]?.stringValue)
            #expect(address.hasPrefix("10.79.0."))
            #expect(try ip("-n", pod.name, "addr", "show", "eth0").contains("inet \(address)"))
            // The IPAM state is in the layout both host-locals share.
            let bare = String(address.split(separator: "/")[0])
            let network = try #require(try JSON.parse(text)["name"]?.stringValue)
            #expect(FileSystem.exists(scratch + "/" + network + "/" + bare))
            guard case .object(var withPrevious) = try JSON.parse(text) else { return }
            withPrevious["prevResult"] = result
            let del = try run("DEL", JSON.object(withPrevious).text)
            #expect(del.status == .exited(0), "\(del.stdoutText) \(del.stderrText)")
            #expect(!FileSystem.exists(scratch + "/" + network + "/" + bare))
            #expect(!(try ip("-n", pod.name, "link").contains("eth0")))
        }
    }
}
