import Logging
import AgentSupport
import ContainerStatsHTTP
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import Hummingbird
import LinuxPrimitives
import Testing
@testable import ContainerStats

let prometheusPath = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first { FileSystem.exists($0) }

/// A loopback TCP port nobody listens on right now.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SystemError.current("socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            try syscall("bind") { bind(fd, raw, length) }
            try syscall("getsockname") { getsockname(fd, raw, &length) }
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func httpGet(_ url: String) async throws -> (status: Int, body: Data) {
    guard let target = URL(string: url) else { throw FixtureError("bad URL \(url)") }
    let (data, response) = try await URLSession.shared.data(from: target)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
}

/// The end-to-end path a user takes: a real Prometheus server scrapes the stats endpoint
/// (served by Hummingbird on loopback) and its HTTP API returns the container's series.
@Suite(.enabled(if: TestHost.canMakeCgroups && prometheusPath != nil && promtoolPath != nil,
                "needs root, a cgroup2 mount and Debian's prometheus package"), .serialized)
struct PrometheusScrapeSlowRootTests {
    @Test func prometheusScrapesContainerSeriesWithPodLabels() async throws {
        let layout = try #require(TestHost.layout)
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let work = "/tmp/swiftlet-stats-prom-\(TestHost.uniqueSuffix())"
        try FileSystem.createDirectory(work + "/data")
        defer { try? FileSystem.removeTree(work) }

        let podPath = try fixture.makeCgroup("pod")
        let containerPath = try fixture.makeCgroup("pod/app")
        let now = HostConstants.wallClockSeconds()
        let namespace = "prom-ns-\(getpid())"
        let source = StaticTargetSource(StatsTargets(pods: [PodTarget(
            namespace: namespace, name: "web", uid: "uid-prom", cgroupPath: podPath, startTime: now,
            containers: [ContainerTarget(name: "app", id: "cid-prom", image: "bars.local/busybox:latest", cgroupPath: containerPath,
                                         startTime: now)])]))
        try fixture.spawn(in: containerPath, "i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done; sleep 300")

        var configuration = StatsConfiguration()
        configuration.housekeepingInterval = .seconds(1)
        let stats = try StatsService(source: source, configuration: configuration)
        let appPort = try freeLoopbackPort()
        let webPort = try freeLoopbackPort()
        let router = Router()
        router.addStatsRoutes(stats.endpoints, agentMetrics: stats.agentMetrics)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: appPort)))

        try FileSystem.write(work + "/prometheus.yml", Array("""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: swiftlet-cadvisor
                metrics_path: /metrics/cadvisor
                static_configs:
                  - targets: ['127.0.0.1:\(appPort)']
            """.utf8))
        let log = try FileDescriptor.open(work + "/prometheus.log", O_WRONLY | O_CREAT | O_TRUNC)
        var options = Subprocess.Options()
        options.stdout = log
        options.stderr = log
        let prometheus = try #require(prometheusPath)
        let pid = try Subprocess.spawn(prometheus, arguments: [
            prometheus, "--config.file=\(work)/prometheus.yml", "--storage.tsdb.path=\(work)/data",
            "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn",
        ], environment: TestHost.environment, options: options)
        log.close()
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            if waitUntilExited(pid, seconds: 10) == false { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await stats.run() }
            group.addTask { try await GracefulService.run(app, logger: Logger(label: "test.http")) }
            try await checkScrapes(appPort: appPort, webPort: webPort, namespace: namespace, containerPath: containerPath, work: work)
            group.cancelAll()
        }
    }

    func checkScrapes(appPort: Int, webPort: Int, namespace: String, containerPath: String, work: String) async throws {
        // Our own scrape is valid exposition.
        let body = try #require(await poll(seconds: 20) { () async -> Data? in
            guard let (status, data) = try? await httpGet("http://127.0.0.1:\(appPort)/metrics/cadvisor"), status == 200 else { return nil }
            return data
        })
        let problems = try promtoolProblems(Array(body))
        #expect(problems == nil, "promtool: \(problems ?? "")")

        for metric in ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes"] {
            let query = "\(metric){namespace=\"\(namespace)\",pod=\"web\",container=\"app\"}"
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+")
            let url = "http://127.0.0.1:\(webPort)/api/v1/query?query=" + (query.addingPercentEncoding(withAllowedCharacters: allowed) ?? query)
            let series = await poll(seconds: 60) { () async -> [[String: Any]]? in
                guard let (status, data) = try? await httpGet(url), status == 200,
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let payload = object["data"] as? [String: Any], let series = payload["result"] as? [[String: Any]],
                      !series.isEmpty else { return nil }
                return series
            }
            let log = (try? FileSystem.readString(work + "/prometheus.log")) ?? ""
            let first = try #require(series?.first, "Prometheus never returned \(query); its log: \(log)")
            let labels = first["metric"] as? [String: String] ?? [:]
            #expect(labels["namespace"] == namespace)
            #expect(labels["pod"] == "web")
            #expect(labels["container"] == "app")
            #expect(labels["id"] == containerPath)
            #expect(labels["image"] == "bars.local/busybox:latest")
            #expect(labels["job"] == "swiftlet-cadvisor")
            let value = ((first["value"] as? [Any])?.last as? String).flatMap(Double.init)
            #expect((value ?? 0) > 0, "\(metric) = \(String(describing: value))")
        }
    }
}

/// Calls `attempt` every 100 ms until it returns a value or `seconds` pass.
func poll<T>(seconds: Double, _ attempt: () async -> T?) async -> T? {
    let deadline = HostConstants.monotonicNanoseconds() + UInt64(seconds * 1e9)
    while true {
        if let value = await attempt() { return value }
        if HostConstants.monotonicNanoseconds() >= deadline { return nil }
        try? await Task.sleep(for: .milliseconds(100))
    }
}

/// Waits up to `seconds` for a child to exit (polling waitpid WNOHANG).
func waitUntilExited(_ pid: pid_t, seconds: Double) -> Bool {
    let deadline = HostConstants.monotonicNanoseconds() + UInt64(seconds * 1e9)
    var status: Int32 = 0
    while HostConstants.monotonicNanoseconds() < deadline {
        if waitpid(pid, &status, WNOHANG) == pid { return true }
        usleep(50_000)
    }
    return false
}
