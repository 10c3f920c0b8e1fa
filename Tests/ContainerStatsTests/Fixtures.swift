import Glibc
import LinuxPrimitives
@testable import ContainerStats

/// Whether the root-only tests can run: root, and a cgroup2 mount we can create cgroups in.
enum TestHost {
    static let isRoot = getuid() == 0
    static let layout: CgroupLayout? = try? CgroupLayout.detect()
    static var canMakeCgroups: Bool { isRoot && layout != nil }
    /// Pure cgroup v2 with the cpu and memory controllers (the VM harness's guest).
    static var isPureV2WithControllers: Bool {
        guard let layout, isRoot else { return false }
        return layout.kind == .unified && layout.controllers.contains("cpu") && layout.controllers.contains("memory")
    }
    static let python = FileSystem.exists("/usr/bin/python3") ? "/usr/bin/python3" : "/usr/local/bin/python3"
    static let ip = FileSystem.exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/usr/bin/ip"
    static var environment: [String] {
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    }

    static func uniqueSuffix() -> String {
        "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs an observer/driver tool (ip, python3) and fails the test with its stderr if it fails.
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let result = try Subprocess.run(path, arguments: [path] + arguments, environment: environment)
        guard result.status.succeeded else {
            throw FixtureError("\(([path] + arguments).joined(separator: " ")) failed: \(String(decoding: result.stderr, as: UTF8.self))")
        }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A test-owned cgroup subtree with real processes in it. `cleanup()` kills every process in
/// the subtree (cgroup.kill, then SIGKILL per pid as a fallback), reaps our children and
/// removes the cgroups deepest-first; call it from a `defer`.
final class CgroupFixture {
    let layout: CgroupLayout
    /// Relative to the cgroup2 mount, e.g. "/swiftlet-stats-test-123-456".
    let root: String
    private var cgroups: [String] = []
    private var children: [pid_t] = []

    init(layout: CgroupLayout, name: String = "swiftlet-stats-test") throws {
        self.layout = layout
        root = "/\(name)-\(TestHost.uniqueSuffix())"
        try FileSystem.createDirectory(layout.directory(of: root))
        cgroups.append(root)
    }

    /// Creates `root/relative` (and parents) and returns its path relative to the mount.
    @discardableResult
    func makeCgroup(_ relative: String) throws -> String {
        var path = root
        for part in relative.split(separator: "/") {
            enableControllers(below: path)
            path += "/" + part
            if !cgroups.contains(path) {
                try FileSystem.createDirectory(layout.directory(of: path))
                cgroups.append(path)
            }
        }
        return path
    }

    /// On pure cgroup v2, delegates cpu/memory/io/pids to the children of `cgroup` (what the
    /// runtime does for pod cgroups); on a hybrid host there is nothing to enable.
    private func enableControllers(below cgroup: String) {
        guard layout.kind == .unified else { return }
        var targets = [layout.directory(of: cgroup)]
        if cgroup == root { targets.insert(layout.mountPoint, at: 0) }
        for dir in targets {
            let text = ((try? KernelFile.read(dir + "/cgroup.controllers")) ?? nil).map { KernelText.string($0) } ?? ""
            let available = Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
            for controller in ["cpu", "memory", "io", "pids"] where available.contains(controller) {
                try? FileSystem.writeControl(dir + "/cgroup.subtree_control", "+" + controller)
            }
        }
    }

    /// Starts `/bin/sh -c script` inside `cgroup`: the shell waits on a pipe until it has been
    /// moved, so everything the script does is charged to the cgroup.
    @discardableResult
    func spawn(in cgroup: String, _ script: String) throws -> pid_t {
        let gate = try FileDescriptor.pipe()
        var options = Subprocess.Options()
        options.stdin = gate.read
        let pid: pid_t
        do {
            pid = try Subprocess.spawn("/bin/sh", arguments: ["sh", "-c", "read gate; " + script],
                                       environment: TestHost.environment, options: options)
        } catch {
            gate.read.close()
            gate.write.close()
            throw error
        }
        gate.read.close()
        children.append(pid)
        defer { gate.write.close() }
        try FileSystem.writeControl(layout.directory(of: cgroup) + "/cgroup.procs", "\(pid)")
        try gate.write.writeAll("go\n")
        return pid
    }

    func cleanup() {
        for cgroup in cgroups.reversed() {
            let dir = layout.directory(of: cgroup)
            try? FileSystem.writeControl(dir + "/cgroup.kill", "1")
            if let bytes = (try? KernelFile.read(dir + "/cgroup.procs")) ?? nil {
                for pid in KernelText.ids(bytes) { kill(pid, SIGKILL) }
            }
        }
        for pid in children {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        children.removeAll()
        for cgroup in cgroups.reversed() {
            let dir = layout.directory(of: cgroup)
            // Killed processes leave the cgroup asynchronously; retry briefly.
            for _ in 0..<200 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                usleep(10_000)
            }
        }
        cgroups.removeAll()
    }
}

/// Two network namespaces joined by a veth pair (eth0 in each), addresses only inside them.
/// `cleanup()` deletes both namespaces (and with them the veth).
final class NetnsPairFixture {
    let pod: String
    let peer: String
    let podAddress = "10.251.7.1"
    let peerAddress = "10.251.7.2"
    var podPath: String { "/run/netns/" + pod }

    init() throws {
        let suffix = UInt32.random(in: 0...UInt32.max)
        pod = "swst-\(suffix)-p"
        peer = "swst-\(suffix)-q"
        do {
            try TestHost.run(TestHost.ip, ["netns", "add", pod])
            try TestHost.run(TestHost.ip, ["netns", "add", peer])
            try TestHost.run(TestHost.ip, ["-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer])
            try TestHost.run(TestHost.ip, ["-n", pod, "addr", "add", podAddress + "/30", "dev", "eth0"])
            try TestHost.run(TestHost.ip, ["-n", peer, "addr", "add", peerAddress + "/30", "dev", "eth0"])
            for ns in [pod, peer] {
                try TestHost.run(TestHost.ip, ["-n", ns, "link", "set", "lo", "up"])
                try TestHost.run(TestHost.ip, ["-n", ns, "link", "set", "eth0", "up"])
            }
        } catch {
            cleanup()
            throw error
        }
    }

    /// Sends `count` UDP datagrams of `size` payload bytes from namespace `from` to `address`.
    func sendUDP(from namespace: String, to address: String, count: Int, size: Int) throws {
        let script = """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            payload = b'x' * \(size)
            for _ in range(\(count)):
                s.sendto(payload, ('\(address)', 9))
            """
        try TestHost.run(TestHost.ip, ["netns", "exec", namespace, TestHost.python, "-c", script])
    }

    func cleanup() {
        _ = try? Subprocess.run(TestHost.ip, arguments: [TestHost.ip, "netns", "del", pod], environment: TestHost.environment)
        _ = try? Subprocess.run(TestHost.ip, arguments: [TestHost.ip, "netns", "del", peer], environment: TestHost.environment)
    }
}

/// CPU seconds (utime + stime) a process has used, from /proc/PID/stat.
func processCPUSeconds(_ pid: pid_t) -> Double? {
    guard let bytes = (try? KernelFile.read("/proc/\(pid)/stat")) ?? nil, let fields = KernelText.procStatFields(bytes),
          fields.count > 12, let utime = KernelText.number(fields[11]), let stime = KernelText.number(fields[12]) else { return nil }
    return Double(utime + stime) / Double(HostConstants.clockTicksPerSecond)
}

/// Polls `condition` every 50 ms for up to `seconds`.
func waitUntil(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = HostConstants.monotonicNanoseconds() + UInt64(seconds * 1e9)
    while HostConstants.monotonicNanoseconds() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
