import ContainerStats
import LinuxPrimitives

/// `stats-bench probe`: samples given cgroups twice and writes what the endpoints would serve,
/// for checks on hosts where the agent itself is not running (the pure cgroup v2 VM guest).
///
///   stats-bench probe --pod NAMESPACE/NAME:CGROUP [--container NAME:CGROUP]... [--interval-ms 1000] --out DIR
///
/// Writes DIR/metrics-cadvisor.txt, DIR/metrics-resource.txt, DIR/summary.json, DIR/spec.json.
enum Probe {
    static func run(_ arguments: [String]) async throws {
        var podSpec: String?
        var containers: [(String, String)] = []
        var intervalMs = 1000
        var out: String?
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--pod": podSpec = rest.popFirst()
            case "--container":
                guard let value = rest.popFirst(), let colon = value.firstIndex(of: ":") else { throw BenchError("--container NAME:CGROUP") }
                containers.append((String(value[..<colon]), String(value[value.index(after: colon)...])))
            case "--interval-ms": intervalMs = Int(rest.popFirst() ?? "") ?? intervalMs
            case "--out": out = rest.popFirst()
            default: throw BenchError("probe: unknown argument \(flag)")
            }
        }
        guard let podSpec, let colon = podSpec.firstIndex(of: ":"), let slash = podSpec.firstIndex(of: "/"), slash < colon,
              let out else { throw BenchError("probe: --pod NAMESPACE/NAME:CGROUP and --out DIR are required") }
        let now = HostConstants.wallClockSeconds()
        let pod = PodTarget(
            namespace: String(podSpec[..<slash]), name: String(podSpec[podSpec.index(after: slash)..<colon]), uid: "probe-uid",
            cgroupPath: String(podSpec[podSpec.index(after: colon)...]), startTime: now,
            containers: containers.map { ContainerTarget(name: $0.0, id: "probe-\($0.0)", image: "probe", cgroupPath: $0.1, startTime: now) })
        let stats = try StatsService(source: StaticTargetSource(StatsTargets(pods: [pod], node: NodeTarget(nodeName: HostConstants.hostName()))))
        print("layout: \(stats.layout)")
        await stats.housekeepOnce()
        try await Task.sleep(for: .milliseconds(intervalMs))
        await stats.housekeepOnce()
        try FileSystem.createDirectory(out)
        try FileSystem.write(out + "/metrics-cadvisor.txt", stats.endpoints.cadvisorMetrics().body)
        try FileSystem.write(out + "/metrics-resource.txt", stats.endpoints.resourceMetrics().body)
        try FileSystem.write(out + "/summary.json", stats.endpoints.summary().body)
        try FileSystem.write(out + "/spec.json", stats.endpoints.spec().body)
    }
}
