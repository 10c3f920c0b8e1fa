import Foundation
import Glibc
import LinuxPrimitives
@testable import Runtime

/// Test scaffolding: a busybox root file system made from Debian's busybox-static, served as
/// a one-layer image, and private root/run/cgroup directories removed after each test.
enum TestEnv {
    static var isRoot: Bool { getuid() == 0 }
    static var hasBusybox: Bool { FileManager.default.isExecutableFile(atPath: "/bin/busybox") }

    /// The directory of the test binary, where SwiftPM also puts swiftlet-shim.
    static var buildDir: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, 4095)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while dir.hasSuffix(".xctest") || dir.hasSuffix("/Contents") || dir.hasSuffix("/MacOS") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }

    static let applets = ["sh", "sleep", "echo", "cat", "ls", "true", "false", "env", "id", "hostname", "ps", "grep", "head",
                          "tail", "touch", "mkdir", "rm", "unshare", "mount", "dd", "kill", "stat", "wc", "nc", "httpd", "wget"]

    /// A busybox root file system at `dir` (one image layer).
    static func makeBusyboxLayer(at dir: String) throws {
        let fm = FileManager.default
        for sub in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "data"] {
            try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        chmod(dir + "/tmp", 0o1777)
        if !fm.fileExists(atPath: dir + "/bin/busybox") { try fm.copyItem(atPath: "/bin/busybox", toPath: dir + "/bin/busybox") }
        for applet in applets where !fm.fileExists(atPath: dir + "/bin/" + applet) {
            try fm.createSymbolicLink(atPath: dir + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\napp:x:1000:1000::/:/bin/sh\n"
            .write(toFile: dir + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n".write(toFile: dir + "/etc/group", atomically: true, encoding: .utf8)
    }
}

/// Serves one busybox layer for every reference (a fake of the image store for runtime tests;
/// the store itself is tested on its own and end to end through the agent).
struct BusyboxImages: ImageProvider {
    let layer: String
    func resolve(_ reference: String) throws -> ResolvedImage {
        guard reference.contains("busybox") else { throw ImageNotFound(reference: reference) }
        return ResolvedImage(id: "sha256:test", reference: reference, layerDirs: [layer], env: ["PATH=/bin"], cmd: ["/bin/sh"], workingDir: "/")
    }
    func retain(_ image: ResolvedImage, for containerID: String) throws {}
    func release(containerID: String) throws {}
}

/// A private runtime world for one test, torn down completely afterwards.
final class RuntimeFixture: @unchecked Sendable {
    let base: String
    let runtime: RuntimeService
    let cgroupRoot: String

    init(seccompDefault: Bool = false, network: any PodNetwork = LoopbackOnlyNetwork()) throws {
        base = "/tmp/swiftlet-rt-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        cgroupRoot = "/swiftlet-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let layer = "/tmp/swiftlet-test-busybox-layer"
        try TestEnv.makeBusyboxLayer(at: layer)
        let config = RuntimeConfig(rootDir: base + "/root", runDir: base + "/run", cgroupRoot: cgroupRoot,
                                   shimPath: TestEnv.buildDir + "/swiftlet-shim", seccompDefault: seccompDefault)
        runtime = try RuntimeService(config: config, images: BusyboxImages(layer: layer), network: network)
    }

    func sandboxConfig(_ name: String, logDir: Bool = true) -> SandboxConfig {
        let uid = UUID().uuidString.lowercased()
        return SandboxConfig(name: name, namespace: "test", uid: uid, logDirectory: logDir ? base + "/logs/test_\(name)_\(uid)" : "")
    }

    /// Removes every sandbox, the cgroup subtree and the directories; safe after failures.
    func tearDown() async {
        for sandbox in runtime.listPodSandboxes() { try? await runtime.removePodSandbox(sandbox.id) }
        try? runtime.cgroups.remove(cgroupRoot)
        for point in Mounts.mountPoints(under: base) { try? Mounts.unmount(point) }
        try? FileSystem.removeTree(base)
    }

    /// Waits until `condition` holds or `seconds` pass.
    func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return (try? condition()) == true
    }

    func log(_ sandbox: SandboxConfig, _ path: String) -> String {
        (try? String(contentsOfFile: sandbox.logDirectory + "/" + path, encoding: .utf8)) ?? ""
    }
}
