import Foundation
import Images
import LinuxPrimitives
import Runtime

// Pod start latency: a runtime call (sandbox + container) until the container's process runs,
// beside `runc run -d` of an equivalent bundle (same rootfs, same namespaces), same run.
// usage: podstart ROOT_DIR IMAGE_REF [N_SEQUENTIAL] [N_PARALLEL]
// ROOT_DIR holds an image store with IMAGE_REF imported (`swiftlet image import --root-dir`).

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: podstart ROOT_DIR IMAGE_REF [N_SEQUENTIAL] [N_PARALLEL]\n".utf8))
    exit(2)
}
let rootDir = args[1], imageRef = args[2]
let sequential = args.count > 3 ? Int(args[3]) ?? 50 : 50
let parallel = args.count > 4 ? Int(args[4]) ?? 10 : 10
let exeDir = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? args[0]) as NSString
let shim = ProcessInfo.processInfo.environment["SWIFTLET_SHIM"] ?? exeDir.deletingLastPathComponent + "/swiftlet-shim"

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func report(_ name: String, _ ms: [Double]) {
    print(String(format: "%-44@ n=%3d  p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms", name as NSString, ms.count,
                 percentile(ms, 0.5), percentile(ms, 0.99), ms.reduce(0, +) / Double(max(1, ms.count))))
}

func now() -> Double { Double(WallClock.monotonicNanos()) / 1e6 }

let store = try ImageStore(rootDir: rootDir)
let cgroupRoot = "/swiftlet-bench-\(getpid())"
let runtime = try RuntimeService(config: RuntimeConfig(rootDir: rootDir, runDir: "/run/swiftlet-bench-\(getpid())", cgroupRoot: cgroupRoot, shimPath: shim),
                                 images: ImageStoreProvider(store: store))
let image = try ImageStoreProvider(store: store).resolve(imageRef)

final class Phases: @unchecked Sendable {
    var sandbox: [Double] = [], create: [Double] = [], start: [Double] = []
}
let phases = Phases()

func startPod(_ i: Int) async throws -> (Double, String, Int32) {
    let t0 = now()
    let sid = try await runtime.runPodSandbox(SandboxConfig(name: "bench-\(i)", namespace: "bench", uid: UUID().uuidString.lowercased()))
    let ta = now()
    let cid = try runtime.createContainer(sandboxID: sid, ContainerConfig(name: "c", image: imageRef, command: ["sleep", "3600"]))
    let tb = now()
    try runtime.startContainer(cid)
    let t1 = now()
    if i >= 0 && i < 1000 {
        phases.sandbox.append(ta - t0)
        phases.create.append(tb - ta)
        phases.start.append(t1 - tb)
    }
    return (t1 - t0, sid, try runtime.containerStatus(cid).pid)
}

/// USS (private) and PSS of a process, in KiB, from smaps_rollup.
func memory(_ pid: Int32) -> (uss: Int, pss: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return (0, 0) }
    var uss = 0, pss = 0
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 2, let v = Int(f[1]) else { continue }
        if f[0] == "Private_Clean:" || f[0] == "Private_Dirty:" { uss += v }
        if f[0] == "Pss:" { pss += v }
    }
    return (uss, pss)
}

// Warm-up (page cache, seccomp cache, first cgroup levels).
let (_, warm, _) = try await startPod(-1)
try await runtime.removePodSandbox(warm)

var seq: [Double] = []
var sandboxes: [String] = []
for i in 0..<sequential {
    let (ms, sid, _) = try await startPod(i)
    seq.append(ms)
    sandboxes.append(sid)
}
// Shim memory with `sequential` pods running.
var uss: [Double] = [], pss: [Double] = []
for s in runtime.listPodSandboxes() {
    let m = memory(s.shimPID)
    uss.append(Double(m.uss))
    pss.append(Double(m.pss))
}
for sid in sandboxes { try await runtime.removePodSandbox(sid) }

var par: [Double] = []
let wall0 = now()
try await withThrowingTaskGroup(of: (Double, String, Int32).self) { group in
    for i in 0..<parallel { group.addTask { try await startPod(1000 + i) } }
    for try await (ms, _, _) in group { par.append(ms) }
}
let wall = now() - wall0
for s in runtime.listPodSandboxes() { try await runtime.removePodSandbox(s.id) }
try? FileManager.default.removeItem(atPath: "/run/swiftlet-bench-\(getpid())")
rmdir("/sys/fs/cgroup/unified\(cgroupRoot)/shims"); rmdir("/sys/fs/cgroup/unified\(cgroupRoot)/kubepods/besteffort"); rmdir("/sys/fs/cgroup/unified\(cgroupRoot)/kubepods"); rmdir("/sys/fs/cgroup/unified\(cgroupRoot)")
rmdir("/sys/fs/cgroup\(cgroupRoot)/shims"); rmdir("/sys/fs/cgroup\(cgroupRoot)/kubepods/besteffort"); rmdir("/sys/fs/cgroup\(cgroupRoot)/kubepods"); rmdir("/sys/fs/cgroup\(cgroupRoot)")

// runc run -d of the same rootfs (the image's single layer, bind-mounted read-only through
// an overlay like ours) with pid, ipc, uts, mount and network namespaces.
var runcTimes: [Double] = []
var runcParallel: [Double] = []
var runcWall = 0.0
/// The peer: runc with a bundle over the same image layer.
struct RuncPeer: Sendable {
    let runc: String
    let bundle: String
    let lower: String

    func makeBundle(_ name: String) throws -> String {
        let dir = bundle + "/" + name
        for d in ["rootfs", "upper", "work"] { try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true) }
        let config: [String: Any] = [
            "ociVersion": "1.0.2",
            "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": ["sleep", "3600"], "env": ["PATH=/bin"], "cwd": "/",
                        "capabilities": ["bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]], "noNewPrivileges": false],
            "root": ["path": "rootfs", "readonly": false],
            "hostname": name,
            "mounts": [["destination": "/proc", "type": "proc", "source": "proc"],
                       ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
                       ["destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]],
                       ["destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]],
                       ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]]],
            "linux": ["namespaces": [["type": "pid"], ["type": "ipc"], ["type": "uts"], ["type": "mount"], ["type": "network"]],
                      "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"], "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }
    func run(_ path: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
    /// The overlay is mounted before timing, as our shim's child mounts its own inside the
    /// measured interval (so runc gets the easier job).
    func runcOnce(_ name: String) throws -> Double {
        let dir = try makeBundle(name)
        _ = run("/bin/mount", ["-t", "overlay", "overlay", "-o", "lowerdir=\(lower),upperdir=\(dir)/upper,workdir=\(dir)/work", dir + "/rootfs"])
        let t0 = now()
        let rc = run(runc, ["run", "-d", "--bundle", dir, name])
        let t1 = now()
        if rc != 0 { FileHandle.standardError.write(Data("runc run failed for \(name)\n".utf8)) }
        return t1 - t0
    }
    func cleanup(_ name: String) {
        _ = run(runc, ["delete", "-f", name])
        _ = run("/bin/umount", [bundle + "/" + name + "/rootfs"])
    }
}

if let runcPath = ["/usr/sbin/runc", "/usr/bin/runc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
    let peer = RuncPeer(runc: runcPath, bundle: "/tmp/podstart-runc-\(getpid())", lower: image.layerDirs.joined(separator: ":"))
    let bundle = peer.bundle
    _ = try peer.runcOnce("warm-\(getpid())")
    peer.cleanup("warm-\(getpid())")
    for i in 0..<sequential {
        runcTimes.append(try peer.runcOnce("seq\(i)-\(getpid())"))
    }
    for i in 0..<sequential { peer.cleanup("seq\(i)-\(getpid())") }
    let names = (0..<parallel).map { "par\($0)-\(getpid())" }
    let w0 = now()
    runcParallel = await withTaskGroup(of: Double.self) { group in
        for n in names { group.addTask { (try? peer.runcOnce(n)) ?? .nan } }
        var out: [Double] = []
        for await v in group { out.append(v) }
        return out
    }
    runcWall = now() - w0
    for n in names { peer.cleanup(n) }
    try? FileManager.default.removeItem(atPath: bundle)
}

print("pod start: runtime call -> container process running (busybox sleep)")
report("  phase: sandbox (shim, namespaces, cgroups)", phases.sandbox)
report("  phase: create container (image, cgroup, spec)", phases.create)
report("  phase: start container (clone, mounts, exec)", phases.start)
report("swiftlet sequential (sandbox + container)", seq)
report("swiftlet \(parallel) parallel", par)
print(String(format: "swiftlet %d parallel wall time                  %7.2f ms", parallel, wall))
if !runcTimes.isEmpty {
    report("runc run -d sequential (container only)", runcTimes)
    report("runc run -d \(parallel) parallel", runcParallel)
    print(String(format: "runc %d parallel wall time                      %7.2f ms", parallel, runcWall))
    print(String(format: "ratio runc/swiftlet p50 sequential: %.1fx", percentile(runcTimes, 0.5) / percentile(seq, 0.5)))
}
print(String(format: "shim memory per pod (%d pods): USS mean %.0f KiB, PSS mean %.0f KiB", uss.count,
             uss.reduce(0, +) / Double(max(1, uss.count)), pss.reduce(0, +) / Double(max(1, pss.count))))
