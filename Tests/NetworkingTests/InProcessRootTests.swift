import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Testing
@testable import Networking
import Runtime

/// Our plugins run inside the agent (`InProcessExecutor`) must be indistinguishable from their
/// executables: same result file, same host-local state, same errors, and the two modes
/// must be able to take over each other's attachments. Also: concurrency and the calling
/// thread's namespace.
@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces)"), .enabled(if: ourPluginsBuilt, "build the package first"), .serialized)
struct InProcessRootTests {
    enum Mode: String, CaseIterable, Sendable { case exec, inProcess }

    static func executor(_ mode: Mode, _ node: TestNamespace) -> any PluginExecutor {
        mode == .exec ? SpawnExecutor(networkNamespace: node.path) : InProcessExecutor(referenceDirectory: buildDirectory, networkNamespace: node.path)
    }

    /// What one ADD leaves on disk, with the run-specific parts (scratch path, MACs, the
    /// random host veth name) taken out.
    struct Footprint: Equatable {
        var record: JSON
        var ipamFiles: [String: String]
    }

    func addOnce(_ mode: Mode) async throws -> Footprint {
        try await withTestNamespaces(2) { nss, scratch in
            let (node, pod) = (nss[0], nss[1])
            try writeConflist(scratch, PluginSet.ours.conflist(network: "same", bridge: "swtbr20", subnet: "10.75.0.0/24", dataDir: scratch + "/ipam"))
            let network = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(mode, node))
            let attachment = try await network.attach(sandbox("sbx-s", pod, ports: [PortMapping(containerPort: 80, hostPort: 18081)]))
            #expect(attachment.podIPs == ["10.75.0.2"])
            let text = String(decoding: try FileSystem.readBytes(scratch + "/cache/results/same-sbx-s-eth0"), as: UTF8.self)
            var record = try JSON.parse(Array(text.replacing(scratch, with: "SCRATCH").replacing(pod.path, with: "PODNS").utf8))
            // Normalise what is random per run: MACs and the host veth's name.
            // The conflist as ADD saw it (base64 of the file, which names the scratch path):
            // the runtime's input, the same in both modes; checked present, then left out.
            #expect(record["config"]?.stringValue?.isEmpty == false)
            if var top = record.objectValue {
                top["config"] = nil
                record = .object(top)
            }
            if var result = record["result"]?.objectValue, let interfaces = result["interfaces"]?.arrayValue {
                result["interfaces"] = .array(interfaces.enumerated().map { index, interface in
                    guard var object = interface.objectValue else { return interface }
                    object["mac"] = .string("MAC")
                    if index == 1 { object["name"] = .string("VETH") }
                    return .object(object)
                })
                var top = record.objectValue ?? JSONObject()
                top["result"] = .object(result)
                record = .object(top)
            }
            var files: [String: String] = [:]
            for name in try FileSystem.listDirectory(scratch + "/ipam/same") {
                files[name] = String(decoding: try FileSystem.readBytes(scratch + "/ipam/same/" + name), as: UTF8.self)
            }
            #expect(try ip("-n", node.name, "-o", "link", "show", "master", "swtbr20").contains("master"))
            try await network.detach(sandboxID: "sbx-s", netnsPath: pod.path)
            #expect(try eventually { try !ip("-n", node.name, "-o", "link", "show", "master", "swtbr20").contains("master") })
            #expect(try !ip("-n", node.name, "-o", "link").contains("veth"))
            return Footprint(record: record, ipamFiles: files)
        }
    }

    @Test func sameResultFileAndHostLocalStateAsTheExecutables() async throws {
        let executed = try await addOnce(.exec)
        let inProcess = try await addOnce(.inProcess)
        #expect(executed.record["kind"] == "cniCacheV1")
        #expect(executed.record["result"]?["ips"]?.arrayValue?.count == 1)
        #expect(executed.ipamFiles["10.75.0.2"] == "sbx-s\r\neth0")
        #expect(executed.ipamFiles.keys.sorted() == ["10.75.0.2", "last_reserved_ip.0", "lock"])
        #expect(inProcess == executed)
    }

    /// An attachment made by one mode is checked and removed by the other (an agent switching
    /// modes across a restart), leaving no address, veth, rule or record.
    @Test(arguments: [(Mode.exec, Mode.inProcess), (Mode.inProcess, Mode.exec)])
    func attachmentsCarryOverBetweenModes(made: Mode, removed: Mode) async throws {
        try await withTestNamespaces(2) { nss, scratch in
            let (node, pod) = (nss[0], nss[1])
            try writeConflist(scratch, PluginSet.ours.conflist(network: "switch", bridge: "swtbr21", subnet: "10.76.0.0/24", dataDir: scratch + "/ipam"))
            let first = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(made, node))
            let attachment = try await first.attach(sandbox("sbx-x", pod, ports: [PortMapping(containerPort: 80, hostPort: 18082)]))
            #expect(try ip("-n", pod.name, "addr", "show", "eth0").contains(attachment.podIPs[0]))
            let second = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(removed, node))
            #expect(try await second.verify(sandboxID: "sbx-x", netnsPath: pod.path).podIPs == attachment.podIPs)
            try await second.detach(sandboxID: "sbx-x", netnsPath: pod.path)
            #expect(!(try ip("-n", pod.name, "link").contains("eth0")))
            #expect(try FileSystem.listDirectory(scratch + "/ipam/switch").filter { IPAddress($0) != nil } == [])
            #expect(!FileSystem.exists(scratch + "/cache/results/switch-sbx-x-eth0"))
            let rules = try runIn(node, "/usr/sbin/nft", ["nft", "list", "table", "inet", "swiftlet-portmap"]).stdoutText
            #expect(!rules.contains("sbx-x"), "the hostPort rules went: \(rules)")
        }
    }

    /// An exhausted range fails the same way in both modes: same error, same code, same words.
    @Test func pluginErrorsAreTheSameInBothModes() async throws {
        try await withTestNamespaces(3) { nss, scratch in
            let (node, podA, podB) = (nss[0], nss[1], nss[2])
            try writeConflist(scratch, PluginSet.ours.conflist(network: "tiny", bridge: "swtbr22", subnet: "10.77.0.0/30", dataDir: scratch + "/ipam"))
            let executed = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(.exec, node))
            let inProcess = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(.inProcess, node))
            _ = try await inProcess.attach(sandbox("sbx-1", podA))
            let viaExec = await #expect(throws: PodNetworkError.self) { try await executed.attach(sandbox("sbx-2", podB)) }
            let viaInProcess = await #expect(throws: PodNetworkError.self) { try await inProcess.attach(sandbox("sbx-2", podB)) }
            #expect(viaInProcess?.cniCode == CNIError.tryAgainLater)
            #expect(viaInProcess?.description.contains("no IP addresses available in range set: 10.77.0.1-10.77.0.2") == true)
            #expect(viaInProcess == viaExec)
            #expect(viaInProcess?.description == viaExec?.description)
            #expect(!(try ip("-n", podB.name, "link").contains("eth0")))
            let statusExec = await #expect(throws: PodNetworkError.self) { try await executed.networkStatus() }
            let statusInProcess = await #expect(throws: PodNetworkError.self) { try await inProcess.networkStatus() }
            #expect(statusInProcess == statusExec && statusInProcess?.cniCode == CNIError.pluginNotAvailable)
            try await inProcess.detach(sandboxID: "sbx-1", netnsPath: podA.path)
            #expect(try FileSystem.listDirectory(scratch + "/ipam/tiny").filter { IPAddress($0) != nil } == [])
        }
    }

    /// Several pods at once, half in process and half through the executables, on one
    /// host-local store: the lock serialises threads of this process and other processes
    /// alike, so every pod gets an address of its own.
    @Test func concurrentAddsInProcessAndBesideExecutables() async throws {
        let count = 8
        try await withTestNamespaces(count + 1) { nss, scratch in
            let node = nss[0]
            try writeConflist(scratch, PluginSet.ours.conflist(network: "many", bridge: "swtbr23", subnet: "10.78.0.0/24", dataDir: scratch + "/ipam"))
            let inProcess = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(.inProcess, node))
            let executed = makePodNetwork(node: node, scratch: scratch, binDirs: [buildDirectory], executor: Self.executor(.exec, node))
            let ips = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 1...count {
                    let network = index % 2 == 0 ? executed : inProcess
                    let pod = nss[index]
                    group.addTask { try await network.attach(sandbox("sbx-c\(index)", pod)).podIPs[0] }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(Set(ips).count == count, "distinct addresses: \(ips.sorted())")
            #expect(try FileSystem.listDirectory(scratch + "/ipam/many").filter { IPAddress($0) != nil }.count == count)
            for index in 1...count {
                #expect(try ip("-n", nss[index].name, "addr", "show", "eth0").contains("inet 10.78.0."))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...count {
                    let pod = nss[index]
                    group.addTask { try await inProcess.detach(sandboxID: "sbx-c\(index)", netnsPath: pod.path) }
                }
                try await group.waitForAll()
            }
            #expect(try FileSystem.listDirectory(scratch + "/ipam/many").filter { IPAddress($0) != nil } == [])
            #expect(try eventually { try !ip("-n", node.name, "-o", "link", "show", "master", "swtbr23").contains("master") })
            #expect(try FileSystem.listDirectory(scratch + "/cache/results") == [])
        }
    }

    /// The thread that runs a plugin in process is in the same network namespace afterwards,
    /// whether the plugin succeeded or failed, and never saw the pod's namespace from outside.
    @Test func callingThreadKeepsItsNetworkNamespace() throws {
        try withTestNamespaces(2) { nss, scratch in
            let (node, pod) = (nss[0], nss[1])
            func threadNamespace() -> (UInt64, UInt64) {
                var st = stat()
                _ = stat(NetworkNamespace.currentThreadPath, &st)
                return (UInt64(st.st_dev), UInt64(st.st_ino))
            }
            let before = threadNamespace()
            let executor = InProcessExecutor(referenceDirectory: buildDirectory, networkNamespace: node.path)
            let config = #"{"cniVersion":"1.1.0","name":"ns","type":"swiftlet-bridge","bridge":"swtbr24","isGateway":true,"ipam":{"type":"swiftlet-host-local","dataDir":"\#(scratch)/ipam","ranges":[[{"subnet":"10.79.0.0/24"}]]}}"#
            func run(_ command: String, netns: String) throws -> Subprocess.Result {
                let environment = ["CNI_COMMAND=" + command, "CNI_CONTAINERID=sbx-t", "CNI_NETNS=" + netns, "CNI_IFNAME=eth0",
                                   "CNI_ARGS=", "CNI_PATH=" + buildDirectory, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
                return try executor.execute(path: buildDirectory + "/swiftlet-bridge", environment: environment, stdin: Array(config.utf8))
            }
            let added = try run("ADD", netns: pod.path)
            #expect(added.status == .exited(0), "\(added.stdoutText) \(added.stderrText)")
            #expect(threadNamespace() == before)
            let failed = try run("ADD", netns: scratch + "/no-such-netns")
            #expect(failed.status == .exited(1))
            #expect(failed.json?["code"]?.intValue == Int64(CNIError.containerUnknown))
            #expect(failed.stderrText.hasPrefix("swiftlet-bridge: "))
            #expect(threadNamespace() == before)
            let removed = try run("DEL", netns: pod.path)
            #expect(removed.status == .exited(0))
            #expect(threadNamespace() == before)
            #expect(try eventually { try !ip("-n", pod.name, "link").contains("eth0") })
        }
    }

    /// Only the files we ship run in process: the build's own file and a byte-identical copy
    /// do; a different file under our name (the user's replacement) is executed.
    @Test func onlyTheShippedFilesRunInProcess() throws {
        try withTestNamespaces(1) { nss, scratch in
            let bin = scratch + "/bin"
            try FileSystem.createDirectory(bin)
            let executor = InProcessExecutor(referenceDirectory: buildDirectory, networkNamespace: nss[0].path)
            #expect(executor.runsInProcess(buildDirectory + "/swiftlet-loopback"))
            try FileSystem.write(bin + "/swiftlet-portmap", try FileSystem.readBytes(buildDirectory + "/swiftlet-portmap"), mode: 0o755)
            #expect(executor.runsInProcess(bin + "/swiftlet-portmap"))
            try FileSystem.write(bin + "/swiftlet-loopback", Array("""
                #!/bin/sh
                cat >/dev/null
                echo '{"cniVersion":"1.1.0","code":7,"msg":"the user replaced this plugin"}'
                exit 1

                """.utf8), mode: 0o755)
            #expect(!executor.runsInProcess(bin + "/swiftlet-loopback"))
            let result = try executor.execute(path: bin + "/swiftlet-loopback",
                                              environment: ["CNI_COMMAND=DEL", "CNI_CONTAINERID=x", "CNI_IFNAME=lo", "CNI_NETNS=", "PATH=/usr/bin:/bin"],
                                              stdin: Array(#"{"cniVersion":"1.1.0","name":"n","type":"swiftlet-loopback"}"#.utf8))
            #expect(result.status == .exited(1))
            #expect(result.json?["msg"] == "the user replaced this plugin")
            // Same size, different bytes: still not ours.
            var altered = try FileSystem.readBytes(buildDirectory + "/swiftlet-portmap")
            altered[altered.count / 2] ^= 0xff
            try FileSystem.write(bin + "/swiftlet-portmap", altered, mode: 0o755)
            #expect(!executor.runsInProcess(bin + "/swiftlet-portmap"))
            #expect(!InProcessExecutor(referenceDirectory: nil).runsInProcess(buildDirectory + "/swiftlet-loopback"))
        }
    }
}
