import Foundation
import Glibc
import LinuxPrimitives

/// Runs the real `swiftlet` binary as a standalone agent against a private root, run, log and
/// cgroup directory, with a busybox image the test builds itself from Debian's busybox-static.
final class AgentHarness: @unchecked Sendable {
    static var isRoot: Bool { getuid() == 0 }
    static var canRun: Bool { isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") }

    let base: String
    let manifests: String
    let root: String
    let logDir: String
    let cgroupRoot: String
    let port: Int
    /// The agent runs in a network namespace of its own, so that its host set-up (forwarding,
    /// the CNI bridge, nftables) never touches this machine's.
    let netns: String
    var agent: Process?
    var agentLog: String { base + "/agent.log" }
    /// The agent's run directory, derived from --root-dir as the agent derives it.
    var runDir: String { "/run/swiftlet/" + root.split(separator: "/").joined(separator: "-") }

    static var buildDir: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while dir.hasSuffix(".xctest") || dir.hasSuffix("/Contents") || dir.hasSuffix("/MacOS") { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }

    static let imageBuilder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ImagesTests/Fixtures/imagebuilder.py").path

    init() throws {
        base = "/tmp/swiftlet-agent-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        manifests = base + "/manifests"
        root = base + "/root"
        logDir = base + "/logs"
        cgroupRoot = "/swiftlet-agent-test-\(getpid())-\(UInt32.random(in: 0...999_999))"
        port = AgentHarness.freePort()
        netns = "swt-\(getpid())-\(UInt32.random(in: 0...999_999))"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try buildAndImportBusybox()
        try run("/usr/sbin/ip", ["netns", "add", netns])
        try run("/usr/sbin/ip", ["-n", netns, "link", "set", "lo", "up"])
    }

    var inNetns: [String] { ["/usr/bin/nsenter", "--net=/run/netns/" + netns] }

    static func freePort() -> Int {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func buildAndImportBusybox() throws {
        var entries: [[String: Any]] = [["path": "bin", "type": "dir", "mode": 0o755], ["path": "tmp", "type": "dir", "mode": 0o1777],
                                        ["path": "etc", "type": "dir", "mode": 0o755], ["path": "data", "type": "dir", "mode": 0o755],
                                        ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
                                        ["path": "etc/passwd", "type": "file", "data": "root:x:0:0:root:/root:/bin/sh\n", "mode": 0o644]]
        for applet in ["sh", "sleep", "echo", "cat", "ls", "true", "false", "hostname", "id", "touch", "grep", "wc", "kill", "date"] {
            entries.append(["path": "bin/" + applet, "type": "symlink", "link": "busybox"])
        }
        let spec: [String: Any] = ["out": base + "/image", "name": "test.local/busybox:1",
                                   "config": ["Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]], "layers": [entries]]
        let specPath = base + "/image-spec.json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
        try run("/usr/bin/python3", [AgentHarness.imageBuilder, specPath])
        try run(AgentHarness.buildDir + "/swiftlet", ["image", "import", "--root-dir", root, base + "/image/docker.tar"])
    }

    @discardableResult
    func run(_ path: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw HarnessError(message: "\(path) \(args): \(text)") }
        return text
    }

    struct HarnessError: Error, CustomStringConvertible { let message: String; var description: String { message } }

    func startAgent(extra: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: inNetns[0])
        p.arguments = [inNetns[1], AgentHarness.buildDir + "/swiftlet", "agent", "--standalone", "--cni-conf-dir", base + "/cni",
                       "--cni-bin-dir", AgentHarness.buildDir, "--pod-manifest-path", manifests, "--root-dir", root, "--pod-log-dir", logDir,
                       "--cgroup-root", cgroupRoot, "--read-only-port", String(port)] + extra
        _ = FileManager.default.createFile(atPath: agentLog, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: agentLog))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        agent = p
    }

    /// `swiftlet up` with --data-dir = this harness's root, inside its network namespace (which
    /// gets an address and a default route through a veth, as a node has).
    func startUp(extra: [String] = []) throws {
        if (try? run("/usr/sbin/ip", ["-n", netns, "link", "show", "eth0"])) == nil {
            // Both ends stay in the node's namespace ("gw0" plays the next hop): the host's own
            // network namespace gets no link, address or route from a test.
            let third = Int.random(in: 1...250)
            try run("/usr/sbin/ip", ["-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", "gw0"])
            try run("/usr/sbin/ip", ["-n", netns, "addr", "add", "10.253.\(third).1/32", "dev", "gw0"])
            try run("/usr/sbin/ip", ["-n", netns, "link", "set", "gw0", "up"])
            try run("/usr/sbin/ip", ["-n", netns, "addr", "add", "10.253.\(third).2/24", "dev", "eth0"])
            try run("/usr/sbin/ip", ["-n", netns, "link", "set", "eth0", "up"])
            try run("/usr/sbin/ip", ["-n", netns, "route", "add", "default", "via", "10.253.\(third).1", "dev", "eth0"])
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: inNetns[0])
        p.arguments = [inNetns[1], AgentHarness.buildDir + "/swiftlet", "up", "--data-dir", root, "--cni-conf-dir", base + "/cni",
                       "--cni-bin-dir", AgentHarness.buildDir, "--pod-log-dir", logDir, "--cgroup-root", cgroupRoot,
                       "--secure-port", String(AgentHarness.freePort()), "--port", String(AgentHarness.freePort()),
                       "--pod-cidr", "10.90.\(Int.random(in: 0...250)).0/24"] + extra
        _ = FileManager.default.createFile(atPath: agentLog, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: agentLog))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        agent = p
    }

    var kubeconfig: String { root + "/apiserver/admin.kubeconfig" }

    /// kubectl from inside the node's namespace; nil on failure.
    func kubectl(_ args: [String]) -> String? {
        try? run(inNetns[0], [inNetns[1], "/usr/bin/kubectl", "--kubeconfig", kubeconfig, "--request-timeout=10s"] + args)
    }

    func killAgent() {
        guard let agent, agent.isRunning else { return }
        kill(agent.processIdentifier, SIGKILL)
        agent.waitUntilExit()
    }

    func writeManifest(_ name: String, _ yaml: String) throws {
        let tmp = manifests + "/." + name + ".tmp"
        try yaml.write(toFile: tmp, atomically: false, encoding: .utf8)
        rename(tmp, manifests + "/" + name)
    }

    func removeManifest(_ name: String) { unlink(manifests + "/" + name) }

    func get(_ path: String) -> Data? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: inNetns[0])
        p.arguments = [inNetns[1], "/usr/bin/curl", "-sf", "--max-time", "5", "http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? data : nil
    }

    /// The pod named `name` from /pods, as a JSON dictionary.
    func pod(_ name: String) -> [String: Any]? {
        guard let data = get("/pods"), let list = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = list["items"] as? [[String: Any]] else { return nil }
        return items.first { ($0["metadata"] as? [String: Any])?["name"] as? String == name }
    }

    func containerStatuses(_ pod: [String: Any]) -> [String: [String: Any]] {
        let status = pod["status"] as? [String: Any] ?? [:]
        let list = status["containerStatuses"] as? [[String: Any]] ?? []
        return Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    func phase(_ name: String) -> String? { (pod(name)?["status"] as? [String: Any])?["phase"] as? String }

    /// PIDs whose command line is `commandLine` and whose cgroup is under this harness's cgroup
    /// root: a pod leaked by another run (a crashed test process) cannot make this one fail.
    func processes(commandLine: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: raw, as: UTF8.self).split(separator: "\0").joined(separator: " ") == commandLine,
                  let cgroup = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return false }
            return cgroup.split(separator: "\n").contains { $0.hasPrefix("0::") && $0.dropFirst(3).hasPrefix(self.cgroupRoot + "/") }
        }
    }

    /// Polls `condition` (which runs kubectl, curl, reads files: blocking work) on a thread of
    /// its own, not on the cooperative pool that in-process servers of other suites need.
    func eventually(_ seconds: Double, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        let check = { (try? await DetachedThread.run { condition() }) ?? false }
        while Date() < deadline {
            if await check() { return true }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        return await check()
    }

    /// Deletes every pod, waits for the agent to tear them down, stops it, and removes
    /// what is left (cgroups, mounts, directories), even after a failed test.
    func tearDown() async {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: manifests)) ?? [] { unlink(manifests + "/" + name) }
        if agent?.isRunning == true {
            _ = await eventually(20) { (try? FileManager.default.contentsOfDirectory(atPath: self.root + "/pods"))?.isEmpty ?? true }
        }
        killAgent()
        let cg = "/sys/fs/cgroup/unified" + cgroupRoot
        let cgroupDir = FileManager.default.fileExists(atPath: cg) ? cg : "/sys/fs/cgroup" + cgroupRoot
        try? FileSystem.writeControl(cgroupDir + "/cgroup.kill", "1")
        try? await Task.sleep(nanoseconds: 100_000_000)
        removeCgroups(cgroupDir)
        for point in Mounts.mountPoints(under: base) + Mounts.mountPoints(under: runDir) { try? Mounts.unmount(point) }
        try? FileManager.default.removeItem(atPath: runDir)
        _ = try? run("/usr/sbin/ip", ["netns", "del", netns])
        try? FileManager.default.removeItem(atPath: base)
    }

    func removeCgroups(_ dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir), isDir.boolValue { removeCgroups(dir + "/" + name) }
        }
        rmdir(dir)
    }
}
