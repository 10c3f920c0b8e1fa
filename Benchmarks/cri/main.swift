import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

// CRI pod start latency, measured as kubelet sees it: RunPodSandbox + CreateContainer +
// StartContainer over the runtime's CRI socket, one pod at a time. The same client runs against
// any CRI runtime (swiftlet cri, containerd), so the numbers compare like for like.
// usage: cri-bench SOCKET IMAGE [--iterations N] [--host-network] [--label NAME] [--log-dir DIR] [--cgroup-parent P]

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: cri-bench SOCKET IMAGE [--iterations N] [--host-network] [--label NAME] [--log-dir DIR]\n".utf8))
    exit(2)
}
let socketPath = args[1], image = args[2]
func option(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
let iterations = option("--iterations").flatMap(Int.init) ?? 50
let hostNetwork = args.contains("--host-network")
let label = option("--label") ?? "runtime"
let logDir = option("--log-dir") ?? "/tmp/cri-bench-logs-\(getpid())"
let cgroupPrefix = option("--cgroup-parent") ?? "/kubepods/besteffort"

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

func nowMs() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

func podConfig(_ i: Int) -> Runtime_V1_PodSandboxConfig {
    var c = Runtime_V1_PodSandboxConfig()
    c.metadata.name = "bench-\(i)"
    c.metadata.namespace = "bench"
    c.metadata.uid = "bench-uid-\(getpid())-\(i)"
    if !hostNetwork { c.hostname = "bench-\(i)" }  // as the kubelet: a host-network pod keeps the node's name
    c.logDirectory = "\(logDir)/bench_bench-\(i)"
    c.linux.securityContext.namespaceOptions.network = hostNetwork ? .node : .pod
    c.linux.securityContext.namespaceOptions.pid = .container
    c.linux.cgroupParent = "\(cgroupPrefix)/podbench\(getpid())x\(i)"
    return c
}

let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
try await withGRPCClient(transport: transport) { client in
    let rt = Runtime_V1_RuntimeService.Client(wrapping: client)
    let version = try await rt.version(Runtime_V1_VersionRequest())
    var phaseSamples: [[Double]] = [[], [], []]
    func start(_ i: Int) async throws -> (Double, String) {
        let pod = podConfig(i)
        let t0 = nowMs()
        var run = Runtime_V1_RunPodSandboxRequest()
        run.config = pod
        let sandbox = try await rt.runPodSandbox(run).podSandboxID
        let t1 = nowMs()
        var create = Runtime_V1_CreateContainerRequest()
        create.podSandboxID = sandbox
        create.sandboxConfig = pod
        create.config.metadata.name = "c"
        create.config.image.image = image
        create.config.command = ["/bin/sleep", "3600"]
        create.config.logPath = "c/0.log"
        let container = try await rt.createContainer(create).containerID
        let t2 = nowMs()
        var startRequest = Runtime_V1_StartContainerRequest()
        startRequest.containerID = container
        _ = try await rt.startContainer(startRequest)
        let t3 = nowMs()
        if i >= 0 {
            phaseSamples[0].append(t1 - t0)
            phaseSamples[1].append(t2 - t1)
            phaseSamples[2].append(t3 - t2)
        }
        return (t3 - t0, sandbox)
    }
    func remove(_ sandbox: String) async throws {
        var stop = Runtime_V1_StopPodSandboxRequest()
        stop.podSandboxID = sandbox
        _ = try await rt.stopPodSandbox(stop)
        var rm = Runtime_V1_RemovePodSandboxRequest()
        rm.podSandboxID = sandbox
        _ = try await rt.removePodSandbox(rm)
    }
    // Warm-up: caches, the first cgroup levels, the CNI bridge.
    for i in 0..<3 { try await remove(try await start(-1 - i).1) }
    var samples: [Double] = []
    var sandboxes: [String] = []
    for i in 0..<iterations {
        let (ms, sandbox) = try await start(i)
        samples.append(ms)
        sandboxes.append(sandbox)
    }
    let removeStart = nowMs()
    for s in sandboxes { try await remove(s) }
    let removeMs = (nowMs() - removeStart) / Double(max(1, sandboxes.count))
    let network = hostNetwork ? "host network" : "pod network (CNI bridge)"
    print(String(format: "%-28@ %-26@ n=%3d  p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms  (stop+remove %6.2f ms/pod)",
                 "\(label) \(version.runtimeVersion)" as NSString, network as NSString, samples.count,
                 percentile(samples, 0.5), percentile(samples, 0.99), samples.reduce(0, +) / Double(max(1, samples.count)), removeMs))
    print(String(format: "    phases p50: RunPodSandbox %.2f ms, CreateContainer %.2f ms, StartContainer %.2f ms",
                 percentile(phaseSamples[0], 0.5), percentile(phaseSamples[1], 0.5), percentile(phaseSamples[2], 0.5)))
}
