import CNI
@testable import LinuxPrimitives
import Synchronization
import Testing
@testable import Networking

/// A recording fake executor for the runtime's logic: answers per plugin name with canned
/// output and remembers every call (verb, plugin, stdin). The real plugins are exercised by
/// the root suites; this one pins ordering, prevResult and cache rules without root.
final class RecordingExecutor: PluginExecutor {
    struct Call: Sendable {
        let plugin: String
        let command: String
        let environment: [String]
        let stdin: JSON
    }

    let calls = Mutex<[Call]>([])
    let responses: @Sendable (String, String, JSON) -> Subprocess.Result

    init(_ responses: @escaping @Sendable (String, String, JSON) -> Subprocess.Result) { self.responses = responses }

    func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result {
        let plugin = path.split(separator: "/").last.map(String.init) ?? path
        let command = environment.first { $0.hasPrefix("CNI_COMMAND=") }.map { String($0.dropFirst(12)) } ?? ""
        let config = (try? JSON.parse(stdin)) ?? .null
        calls.withLock { $0.append(Call(plugin: plugin, command: command, environment: environment, stdin: config)) }
        return responses(plugin, command, config)
    }

    var recorded: [Call] { calls.withLock { $0 } }
}

func succeed(_ json: JSON? = nil) -> Subprocess.Result {
    Subprocess.Result(status: .exited(0), stdout: json?.serialized() ?? [], stderr: [])
}

@Suite struct RuntimeLogicTests {
    let list = #"{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"first","capabilities":{"portMappings":true}},{"type":"second","keep":"me"}]}"#

    func makeRuntime(_ scratch: String, _ executor: RecordingExecutor) throws -> CNIRuntime {
        for name in ["first", "second"] {
            try FileSystem.write(scratch + "/bin/" + name, Array("#!/bin/sh\n".utf8), mode: 0o755)
        }
        return CNIRuntime(locator: PluginLocator(searchPath: "/nonexistent:" + scratch + "/bin"), cacheDir: scratch + "/cache",
                          executor: executor, baseEnvironment: ["PATH=/usr/bin"])
    }

    func scratch() throws -> String {
        let dir = try makeScratchDirectory()
        try FileSystem.createDirectory(dir + "/bin")
        return dir
    }

    static let firstResult: JSON = ["cniVersion": "1.1.0", "interfaces": [["name": "eth0", "sandbox": "/ns"]],
                                    "ips": [["address": "10.1.0.5/24", "interface": 0]]]

    @Test func addRunsInOrderAndDelInReverseWithTheCachedResult() throws {
        let dir = try scratch()
        defer { try? FileSystem.removeTree(dir) }
        let executor = RecordingExecutor { plugin, command, stdin in
            if command == "ADD" { return succeed(plugin == "first" ? RuntimeLogicTests.firstResult : stdin["prevResult"]) }
            return succeed()
        }
        let runtime = try makeRuntime(dir, executor)
        let config = try NetworkConfigList.parse(Array(list.utf8), source: "test.conflist")
        let rt = RuntimeConf(containerID: "sandbox1", netns: "/ns", ifname: "eth0",
                             args: [("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")],
                             capabilityArgs: JSONObject([("portMappings", [["hostPort": 8080, "containerPort": 80, "protocol": "tcp"]])]))
        let result = try runtime.add(config, rt)
        #expect(result.ips.first?.address.description == "10.1.0.5/24")

        let adds = executor.recorded
        #expect(adds.map(\.plugin) == ["first", "second"])
        #expect(adds[0].stdin["name"] == "net" && adds[0].stdin["cniVersion"] == "1.1.0")
        #expect(adds[0].stdin["runtimeConfig"]?["portMappings"]?.arrayValue?.count == 1, "declared capability is passed")
        #expect(adds[1].stdin["runtimeConfig"] == nil, "undeclared capability is not")
        #expect(adds[0].stdin["prevResult"] == nil)
        #expect(adds[1].stdin["prevResult"]?["ips"]?.arrayValue?.first?["address"] == "10.1.0.5/24")
        #expect(adds[1].stdin["keep"] == "me")
        #expect(adds[0].environment.contains("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=web"))
        #expect(adds[0].environment.contains("CNI_PATH=/nonexistent:\(dir)/bin"))
        #expect(adds[0].environment.contains("CNI_CONTAINERID=sandbox1"))

        // The cache record is libcni's: kind, base64 config, args, result.
        let cacheFile = dir + "/cache/results/net-sandbox1-eth0"
        let record = try JSON.parse(try FileSystem.readBytes(cacheFile))
        #expect(record["kind"] == "cniCacheV1")
        #expect(Base64.decode(record["config"]?.stringValue ?? "") == Array(list.utf8))
        #expect(record["cniArgs"]?.arrayValue?.count == 2)
        #expect(record["result"]?["ips"]?.arrayValue?.first?["address"] == "10.1.0.5/24")

        // A new runtime (the agent restarted) deletes with the cached result as prevResult.
        let executor2 = RecordingExecutor { _, _, _ in succeed() }
        let restarted = try makeRuntime(dir, executor2)
        try restarted.del(config, rt)
        let dels = executor2.recorded
        #expect(dels.map(\.plugin) == ["second", "first"])
        #expect(dels.allSatisfy { $0.command == "DEL" && $0.stdin["prevResult"]?["ips"]?.arrayValue?.first?["address"] == "10.1.0.5/24" })
        #expect(!FileSystem.exists(cacheFile))
    }

    @Test func failedDelKeepsTheRecordAndStillAsksEveryPlugin() throws {
        let dir = try scratch()
        defer { try? FileSystem.removeTree(dir) }
        let executor = RecordingExecutor { plugin, command, _ in
            if command == "ADD" { return succeed(RuntimeLogicTests.firstResult) }
            if plugin == "second" {
                return Subprocess.Result(status: .exited(1), stdout: CNIError(code: 5, msg: "disk on fire").json.serialized(), stderr: [])
            }
            return succeed()
        }
        let runtime = try makeRuntime(dir, executor)
        let config = try NetworkConfigList.parse(Array(list.utf8), source: "t")
        let rt = RuntimeConf(containerID: "s2", netns: "/ns", ifname: "eth0")
        _ = try runtime.add(config, rt)
        let error = #expect(throws: PodNetworkError.self) { try runtime.del(config, rt) }
        #expect(error?.cniCode == 5)
        #expect(error?.description.contains("CNI plugin second failed (DEL) on network \"net\"") == true)
        #expect(error?.description.contains("disk on fire") == true)
        #expect(executor.recorded.filter { $0.command == "DEL" }.map(\.plugin) == ["second", "first"])
        #expect(FileSystem.exists(dir + "/cache/results/net-s2-eth0"))
    }

    @Test func crashingPluginAndMissingPluginAreTypedErrors() throws {
        let dir = try scratch()
        defer { try? FileSystem.removeTree(dir) }
        let executor = RecordingExecutor { _, _, _ in
            Subprocess.Result(status: .signaled(11), stdout: Array("garbage".utf8), stderr: Array("segfault\n".utf8))
        }
        let runtime = try makeRuntime(dir, executor)
        let config = try NetworkConfigList.parse(Array(list.utf8), source: "t")
        #expect(throws: PodNetworkError.pluginCrashed(type: "first", command: "ADD", network: "net", status: "signaled(11)", stderr: "segfault")) {
            _ = try runtime.add(config, RuntimeConf(containerID: "s3", netns: "/ns", ifname: "eth0"))
        }
        let missing = try NetworkConfigList.parse(Array(#"{"cniVersion":"1.0.0","name":"m","plugins":[{"type":"nosuch"}]}"#.utf8), source: "t")
        #expect(throws: PodNetworkError.pluginNotFound(type: "nosuch", searchPath: ["/nonexistent", dir + "/bin"])) {
            _ = try runtime.add(missing, RuntimeConf(containerID: "s3", netns: "/ns", ifname: "eth0"))
        }
        #expect(PodNetworkError.pluginNotFound(type: "nosuch", searchPath: ["/a", "/b"]).description == "CNI plugin \"nosuch\" not found in /a:/b")
    }

    @Test func statusAndGCOnlyFromVersion110() throws {
        let dir = try scratch()
        defer { try? FileSystem.removeTree(dir) }
        let executor = RecordingExecutor { _, _, _ in succeed() }
        let runtime = try makeRuntime(dir, executor)
        let old = try NetworkConfigList.parse(Array(#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"first"}]}"#.utf8), source: "t")
        try runtime.status(old)
        #expect(runtime.gc(old, valid: []).isEmpty)
        #expect(executor.recorded.isEmpty)
        let new = try NetworkConfigList.parse(Array(list.utf8), source: "t")
        try runtime.status(new)
        #expect(runtime.gc(new, valid: [("a", "eth0")]).isEmpty)
        let calls = executor.recorded
        #expect(calls.map(\.command) == ["STATUS", "STATUS", "GC", "GC"])
        #expect(calls[2].stdin["cni.dev/valid-attachments"] == [["containerID": "a", "ifname": "eth0"]])
        let disabled = try NetworkConfigList.parse(Array(#"{"cniVersion":"1.1.0","name":"n","disableGC":true,"plugins":[{"type":"first"}]}"#.utf8), source: "t")
        _ = runtime.gc(disabled, valid: [])
        #expect(executor.recorded.count == 4)
    }

    @Test func configurationFiles() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileSystem.removeTree(dir) }
        #expect(try NetworkConfigList.loadFirst(in: dir) == nil)
        try FileSystem.write(dir + "/README", Array("x".utf8))
        try FileSystem.write(dir + "/20-b.conflist", Array(#"{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]}"#.utf8))
        try FileSystem.write(dir + "/15-single.conf", Array(#"{"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"x"}"#.utf8))
        #expect(try NetworkConfigList.files(in: dir).map { $0.split(separator: "/").last.map(String.init) ?? "" } == ["15-single.conf", "20-b.conflist"])
        let first = try #require(try NetworkConfigList.loadFirst(in: dir))
        #expect(first.name == "single")
        #expect(first.plugins.map(\.type) == ["bridge"])
        #expect(first.plugins[0].raw["bridge"] == "x")
        #expect(first.cniVersion == "0.4.0")
        try FileSystem.write(dir + "/10-broken.conflist", Array(#"{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"},{}]}"#.utf8))
        #expect(throws: PodNetworkError.invalidConfiguration(path: dir + "/10-broken.conflist", reason: "plugins[1].type is required")) {
            try NetworkConfigList.loadFirst(in: dir)
        }
        try FileSystem.write(dir + "/10-broken.conflist", Array(#"{"name":"x","plugins":["#.utf8))
        let broken = #expect(throws: PodNetworkError.self) { try NetworkConfigList.loadFirst(in: dir) }
        #expect(broken?.description.hasPrefix("invalid CNI network configuration \(dir)/10-broken.conflist: invalid JSON at byte") == true)
        #expect(throws: PodNetworkError.invalidConfiguration(path: "t", reason: "cniVersion is required (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)")) {
            try NetworkConfigList.parse(Array(#"{"name":"n","plugins":[{"type":"t"}]}"#.utf8), source: "t")
        }
        let multi = try NetworkConfigList.parse(Array(#"{"cniVersion":"1.0.0","cniVersions":["0.4.0","1.1.0","9.0.0"],"name":"v","plugins":[{"type":"t"}]}"#.utf8), source: "t")
        #expect(multi.cniVersion == "1.1.0")
        #expect(throws: PodNetworkError.self) {
            try NetworkConfigList.parse(Array(#"{"cniVersion":"1.0.0","name":"a/b","plugins":[{"type":"t"}]}"#.utf8), source: "t")
        }
    }

    @Test func base64MatchesRFC4648() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.decode("!!") == nil)
    }

    @Test func defaultNetworkFollowsThePodCIDR() throws {
        let document = try DefaultNetwork.conflist(podCIDR: "10.89.0.0/24")
        #expect(document["name"] == "swiftlet")
        let plugins = document["plugins"]?.arrayValue ?? []
        #expect(plugins.map { $0["type"] } == ["swiftlet-bridge", "swiftlet-portmap", "swiftlet-loopback"])
        #expect(plugins[0]["ipam"]?["ranges"]?.arrayValue?.first?.arrayValue?.first?["subnet"] == "10.89.0.0/24")
        #expect(plugins[1]["capabilities"]?["portMappings"] == true)
        #expect(throws: PodNetworkError.invalidConfiguration(path: "--pod-cidr", reason: "\"10.89.0.0\" is not a prefix in CIDR notation")) {
            try DefaultNetwork.conflist(podCIDR: "10.89.0.0")
        }
        _ = try NetworkConfigList.parse(document.serialized(), source: "default")
    }
}

@Suite struct ExampleConfigurationTests {
    /// The example conflists shipped in cni-plugins/examples are valid configuration lists.
    @Test func examplesParse() throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
        let examples = root + "/cni-plugins/examples"
        let files = try NetworkConfigList.files(in: examples)
        #expect(files.count >= 4)
        for file in files {
            let list = try NetworkConfigList.parse(try FileSystem.readBytes(file), source: file)
            #expect(!list.plugins.isEmpty)
        }
    }
}
