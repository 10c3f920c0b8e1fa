import ContainerStats
import Glibc
import LinuxPrimitives

/// N synthetic pods for the benchmark: a pod cgroup and a container cgroup each, one idle
/// process (`sleep`) in the container, a network namespace the process lives in, and a
/// writable-layer directory with a few files. Everything is removed by `teardown()`.
final class Fleet {
    let layout: CgroupLayout
    let count: Int
    let root: String
    let scratch: String
    let withNetns: Bool
    private(set) var pids: [pid_t] = []
    private(set) var namespaces: [String] = []
    private(set) var targets = StatsTargets()

    init(layout: CgroupLayout, count: Int, withNetns: Bool) {
        self.layout = layout
        self.count = count
        self.withNetns = withNetns
        root = "/swiftlet-stats-bench-\(getpid())-\(count)"
        scratch = "/tmp/swiftlet-stats-bench-\(getpid())-\(count)"
    }

    static let ip = FileSystem.exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/usr/bin/ip"
    static let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    func setUp() throws {
        try FileSystem.createDirectory(layout.directory(of: root))
        let now = HostConstants.wallClockSeconds()
        var pods: [PodTarget] = []
        for i in 0..<count {
            let podPath = "\(root)/pod\(i)"
            let containerPath = "\(podPath)/ctr"
            try FileSystem.createDirectory(layout.directory(of: containerPath))
            let upper = "\(scratch)/\(i)/upper"
            let logs = "\(scratch)/\(i)/logs"
            try FileSystem.createDirectory(upper + "/etc")
            try FileSystem.createDirectory(logs)
            for f in 0..<10 { try FileSystem.write("\(upper)/etc/file\(f)", [UInt8](repeating: 0x41, count: 2048)) }
            try FileSystem.write(logs + "/0.log", Array("started\n".utf8))

            var netnsPath: String?
            var command = ["/bin/sh", "-c", "read gate; exec sleep 3600"]
            if withNetns {
                let name = "swsb-\(getpid())-\(count)-\(i)"
                let result = try Subprocess.run(Self.ip, arguments: [Self.ip, "netns", "add", name], environment: Self.environment)
                guard result.status.succeeded else { throw BenchError("ip netns add \(name) failed") }
                namespaces.append(name)
                _ = try Subprocess.run(Self.ip, arguments: [Self.ip, "-n", name, "link", "set", "lo", "up"], environment: Self.environment)
                netnsPath = "/run/netns/" + name
                command = [Self.ip, "netns", "exec", name] + command
            }
            let gate = try FileDescriptor.pipe()
            var options = Subprocess.Options()
            options.stdin = gate.read
            let pid = try Subprocess.spawn(command[0], arguments: command, environment: Self.environment, options: options)
            gate.read.close()
            pids.append(pid)
            try FileSystem.writeControl(layout.directory(of: containerPath) + "/cgroup.procs", "\(pid)")
            try gate.write.writeAll("go\n")
            gate.write.close()

            pods.append(PodTarget(
                namespace: "bench", name: "pod-\(i)", uid: "uid-bench-\(i)", cgroupPath: podPath, startTime: now,
                networkNamespacePath: netnsPath,
                containers: [ContainerTarget(name: "idle", id: "cid-\(i)", image: "bars.local/busybox:latest", cgroupPath: containerPath,
                                             startTime: now, writableLayerPath: upper, logPath: logs,
                                             spec: ContainerSpecLimits(cpuQuota: 50_000, memoryLimitBytes: 64 << 20))]))
        }
        targets = StatsTargets(pods: pods, node: NodeTarget(nodeName: "bench-node", rootDirectory: "/"))
    }

    /// Waits until every process has exec'd `sleep` (so nobody is still starting up).
    func waitUntilSettled() {
        for _ in 0..<200 {
            let settled = pids.allSatisfy { pid in
                ((try? KernelFile.read("/proc/\(pid)/comm")) ?? nil).map { String(decoding: $0, as: UTF8.self).hasPrefix("sleep") } ?? true
            }
            if settled { return }
            usleep(50_000)
        }
    }

    /// The same targets as JSON for the naive Python peer.
    func naiveTargetsJSON() -> String {
        let pods = targets.pods.enumerated().map { index, pod -> String in
            let containers = pod.containers.map { "\"\(layout.directory(of: $0.cgroupPath))\"" }.joined(separator: ",")
            let net = withNetns ? ", \"netPid\": \(pids[index])" : ""
            return "{\"cgroup\": \"\(layout.directory(of: pod.cgroupPath))\", \"containers\": [\(containers)]\(net)}"
        }
        return "{\"pods\": [\(pods.joined(separator: ","))]}"
    }

    func teardown() {
        for pid in pids { kill(pid, SIGKILL) }
        for pid in pids {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        for i in 0..<count {
            let podDir = layout.directory(of: "\(root)/pod\(i)")
            for dir in [podDir + "/ctr", podDir] {
                for _ in 0..<100 where rmdir(dir) != 0 && errno != ENOENT { usleep(10_000) }
            }
        }
        rmdir(layout.directory(of: root))
        for name in namespaces {
            _ = try? Subprocess.run(Self.ip, arguments: [Self.ip, "netns", "del", name], environment: Self.environment)
        }
        try? FileSystem.removeTree(scratch)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
