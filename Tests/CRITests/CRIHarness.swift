import CRIAPI
import Foundation
import Glibc
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LinuxPrimitives

typealias RuntimeClient = Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>
typealias ImageClient = Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>

/// Runs the real `swiftlet cri` binary against a private root, run, log and cgroup directory,
/// in a network namespace of its own (its CNI bridge and nftables never touch this machine's),
/// with a busybox image the test builds from Debian's busybox-static; clients talk gRPC to its
/// unix socket as kubelet and crictl do.
final class CRIHarness: @unchecked Sendable {
    static var isRoot: Bool { getuid() == 0 }
    static var canRun: Bool { isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") }
    static let image = "test.local/busybox:1"

    let base: String
    let root: String
    let logDir: String
    let cgroupRoot: String
    let netns: String
    let socket: String
    var process: Process?
    /// imagebuilder.py's summary of the test image (digests), for registry tests.
    var imageSummary: [String: Any] = [:]
    var log: String { base + "/cri.log" }
    var runDir: String { "/run/swiftlet/" + root.split(separator: "/").joined(separator: "-") }
    var netnsPath: String { "/run/netns/" + netns }

    static var buildDir: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while dir.hasSuffix(".xctest") || dir.hasSuffix("/Contents") || dir.hasSuffix("/MacOS") { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ImagesTests/Fixtures").path

    init(extraApplets: [String] = []) throws {
        let tag = "\(getpid())-\(UInt32.random(in: 0...999_999))"
        base = "/tmp/swiftlet-cri-\(tag)"
        root = base + "/root"
        logDir = base + "/logs"
        socket = base + "/cri.sock"
        cgroupRoot = "/swiftlet-cri-test-\(tag)"
        netns = "swc-\(tag)"
        try FileManager.default.createDirectory(atPath: base + "/cni", withIntermediateDirectories: true)
        try buildAndImportBusybox()
        try run("/usr/sbin/ip", ["netns", "add", netns])
        try run("/usr/sbin/ip", ["-n", netns, "link", "set", "lo", "up"])
    }

    /// A busybox image with the applets the tests use, built with the image fixtures' builder.
    func buildAndImportBusybox() throws {
        var entries: [[String: Any]] = [["path": "bin", "type": "dir", "mode": 0o755], ["path": "tmp", "type": "dir", "mode": 0o1777],
                                        ["path": "etc", "type": "dir", "mode": 0o755], ["path": "www", "type": "dir", "mode": 0o755],
                                        ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
                                        ["path": "www/index.html", "type": "file", "data": "hello from the pod\n", "mode": 0o644],
                                        ["path": "etc/passwd", "type": "file", "mode": 0o644,
                                         "data": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\nalice:x:1234:1234::/:/bin/sh\n"],
                                        ["path": "etc/group", "type": "file", "mode": 0o644,
                                         "data": "root:x:0:\nnogroup:x:65534:\nalice:x:1234:\nextra:x:2345:alice\n"]]
        for applet in ["sh", "sleep", "echo", "cat", "ls", "true", "false", "hostname", "id", "touch", "grep", "wc", "kill", "date", "ps",
                       "mkdir", "tty", "stty", "nc", "httpd", "head", "ip", "test", "readlink", "env", "sed"] {
            entries.append(["path": "bin/" + applet, "type": "symlink", "link": "busybox"])
        }
        let spec: [String: Any] = ["out": base + "/image", "name": Self.image,
                                   "config": ["Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]], "layers": [entries]]
        let specPath = base + "/image-spec.json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
        let summary = try run("/usr/bin/python3", [Self.fixtures + "/imagebuilder.py", specPath])
        imageSummary = (try? JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any]) ?? [:]
        try run(Self.buildDir + "/swiftlet", ["image", "import", "--root-dir", root, base + "/image/docker.tar"])
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

    /// Starts `swiftlet cri` in the harness's network namespace and waits for its socket.
    func start(extra: [String] = []) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = ["--net=" + netnsPath, Self.buildDir + "/swiftlet", "cri", "--root-dir", root, "--container-runtime-endpoint",
                       "unix://" + socket, "--cgroup-root", cgroupRoot, "--cni-conf-dir", base + "/cni", "--cni-bin-dir", Self.buildDir,
                       "--pod-log-dir", logDir] + extra
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        process = p
        for _ in 0..<300 {
            if FileSystem.lstatOrNil(socket).map({ ($0.st_mode & S_IFMT) == S_IFSOCK }) == true { return }
            guard p.isRunning else { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw HarnessError(message: "swiftlet cri did not create \(socket): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// SIGTERM, as systemd stops it; pods keep running.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    func withClients<R: Sendable>(_ body: (RuntimeClient, ImageClient) async throws -> R) async throws -> R {
        let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            try await body(RuntimeClient(wrapping: client), ImageClient(wrapping: client))
        }
    }

    /// Removes every pod through CRI, stops the server, and removes what is left (cgroups,
    /// mounts, directories, the namespace), even after a failed test.
    func tearDown() async {
        if process?.isRunning == true {
            _ = try? await withClients { rt, _ in
                for s in try await rt.listPodSandbox(Runtime_V1_ListPodSandboxRequest()).items {
                    var stop = Runtime_V1_StopPodSandboxRequest()
                    stop.podSandboxID = s.id
                    _ = try? await rt.stopPodSandbox(stop)
                    var remove = Runtime_V1_RemovePodSandboxRequest()
                    remove.podSandboxID = s.id
                    _ = try? await rt.removePodSandbox(remove)
                }
            }
        }
        stop()
        killStrayShims()
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

    /// Shims of this harness's run directory still alive (a test that failed half-way).
    func shimPIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard let cmdline = try? FileSystem.readSmall("/proc/\(pid)/cmdline") else { return false }
            return cmdline.contains("swiftlet-shim") && cmdline.contains(runDir + "/")
        }
    }

    func killStrayShims() {
        for pid in shimPIDs() { kill(pid, SIGTERM) }
        for _ in 0..<50 where !shimPIDs().isEmpty { usleep(20_000) }
        for pid in shimPIDs() { kill(pid, SIGKILL) }
    }

    func removeCgroups(_ dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir), isDir.boolValue { removeCgroups(dir + "/" + name) }
        }
        rmdir(dir)
    }

    /// Cgroups left below the harness's cgroup root (besides the runtime's empty parents).
    func leftoverCgroups() -> [String] {
        let cg = "/sys/fs/cgroup/unified" + cgroupRoot
        let dir = FileManager.default.fileExists(atPath: cg) ? cg : "/sys/fs/cgroup" + cgroupRoot
        var found: [String] = []
        func walk(_ path: String, _ rel: String) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDir), isDir.boolValue else { continue }
                found.append(rel + "/" + name)
                walk(path + "/" + name, rel + "/" + name)
            }
        }
        walk(dir, "")
        return found.filter { !["/kubepods", "/kubepods/besteffort", "/kubepods/burstable", "/shims"].contains($0) }
    }

    /// Links in the harness's network namespace (veths of pods that were not cleaned up show here).
    func links() throws -> [String] {
        try run("/usr/sbin/ip", ["-n", netns, "-o", "link", "show"]).split(separator: "\n").compactMap { line in
            line.split(separator: ":").dropFirst().first.map { String($0).trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? "" }
        }
    }
}
