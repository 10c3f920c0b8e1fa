import Logging
import AgentSupport
import ContainerStats
import ContainerStatsHTTP
import Glibc
import Hummingbird
import LinuxPrimitives

// Stats benchmark: per-round housekeeping CPU, scrape latency and RSS for N synthetic
// containers, next to a naive Python collector reading the same files in the same run.
// Usage: stats-bench [--counts 10,100,500] [--rounds 20] [--scrapes 50] [--no-netns]
//                    [--naive PATH_TO_naive_collector.py]

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func userSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
}

nonisolated(unsafe) var ProcessInfo_renderProfile = false

/// CPU time of the calling thread (a synchronous stretch stays on one thread).
func threadCPUms() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

func statusField(_ name: String) -> UInt64 {
    guard let bytes = (try? KernelFile.read("/proc/self/status")) ?? nil else { return 0 }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name + ":") {
        return UInt64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }
    return 0
}

/// Direct children of this process (all threads), to show housekeeping spawns nothing.
func childCount() -> Int {
    let tasks = (try? FileSystem.listDirectory("/proc/self/task")) ?? []
    return tasks.reduce(0) { total, tid in
        let text = ((try? KernelFile.read("/proc/self/task/\(tid)/children")) ?? nil).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return total + text.split(separator: " ").count
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func monotonicMs() -> Double { Double(HostConstants.monotonicNanoseconds()) / 1e6 }

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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

/// Time for `curl` (the client peer) to fetch the URL, in ms, as curl measures it.
func curlMs(_ url: String) -> Double? {
    guard let result = try? Subprocess.run("/usr/bin/curl", arguments: ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url],
                                           environment: Fleet.environment), result.status.succeeded else { return nil }
    return Double(String(decoding: result.stdout, as: UTF8.self)).map { $0 * 1000 }
}

struct Row {
    var count: Int
    var roundCPUms: Double
    var roundUserMs: Double
    var roundWallMs: Double
    var naiveCPUms: Double?
    var naiveWallMs: Double?
    var renderCPUMedianMs: Double
    var renderMedianMs: Double
    var renderP99Ms: Double
    var httpMedianMs: Double?
    var httpCachedMedianMs: Double?
    var rssAfterRoundsMiB: Double
    var scrapeBytes: Int
    var containerSeries: Int
    var walkCPUms: Double
    var rssMiB: Double
    var childrenBefore: Int
    var childrenAfter: Int
}

@main
struct StatsBench {
    static func main() async throws {
        if CommandLine.arguments.dropFirst().first == "probe" {
            try await Probe.run(Array(CommandLine.arguments.dropFirst(2)))
            return
        }
        var counts = [10, 100, 500]
        var rounds = 20
        var scrapes = 50
        var withNetns = true
        var naive = "Benchmarks/stats/naive_collector.py"
        var arguments = CommandLine.arguments.dropFirst()
        while let flag = arguments.popFirst() {
            switch flag {
            case "--counts": counts = (arguments.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--rounds": rounds = Int(arguments.popFirst() ?? "") ?? rounds
            case "--scrapes": scrapes = Int(arguments.popFirst() ?? "") ?? scrapes
            case "--no-netns": withNetns = false
            case "--render-profile": ProcessInfo_renderProfile = true
            case "--naive": naive = arguments.popFirst() ?? naive
            default: throw BenchError("unknown argument \(flag)")
            }
        }
        let layout = try CgroupLayout.detect()
        print("cgroup layout: \(layout)")
        var rows: [Row] = []
        for count in counts {
            let fleet = Fleet(layout: layout, count: count, withNetns: withNetns)
            defer { fleet.teardown() }
            try fleet.setUp()
            fleet.waitUntilSettled()
            rows.append(try await measure(fleet, layout: layout, rounds: rounds, scrapes: scrapes, naive: naive))
            let r = rows[rows.count - 1]
            print("n=\(count): round cpu \(fmt(r.roundCPUms)) ms (naive python \(r.naiveCPUms.map(fmt) ?? "-") ms), render p50 \(fmt(r.renderMedianMs)) ms, http p50 \(r.httpMedianMs.map(fmt) ?? "-") ms, rss \(fmt(r.rssMiB)) MiB")
        }
        print("")
        print("| containers | housekeeping CPU/round (ms, of which user) | naive Python CPU/round (ms) | ratio | % of a core @10s | round wall (ms) | render CPU p50 (ms) | render wall p50 / p99 (ms) | HTTP scrape p50, first / repeat (ms, curl) | body (KiB) | container_* series | fs walk pass CPU (ms) | RSS after rounds / after scrapes (MiB) | children before/after |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows {
            let ratio = r.naiveCPUms.map { fmt($0 / max(r.roundCPUms, 0.001)) + "x" } ?? "-"
            print("| \(r.count) | \(fmt(r.roundCPUms)) (\(fmt(r.roundUserMs))) | \(r.naiveCPUms.map(fmt) ?? "-") | \(ratio) | \(fmt(r.roundCPUms / 10_000 * 100, digits: 3)) | \(fmt(r.roundWallMs)) | \(fmt(r.renderCPUMedianMs)) | \(fmt(r.renderMedianMs)) / \(fmt(r.renderP99Ms)) | \(r.httpMedianMs.map(fmt) ?? "-") / \(r.httpCachedMedianMs.map(fmt) ?? "-") | \(r.scrapeBytes / 1024) | \(r.containerSeries) | \(fmt(r.walkCPUms)) | \(fmt(r.rssAfterRoundsMiB)) / \(fmt(r.rssMiB)) | \(r.childrenBefore)/\(r.childrenAfter) |")
        }
    }

    static func fmt(_ value: Double) -> String { fmt(value, digits: 2) }
    static func fmt(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }

    static func measure(_ fleet: Fleet, layout: CgroupLayout, rounds: Int, scrapes: Int, naive: String) async throws -> Row {
        var configuration = StatsConfiguration()
        configuration.cgroupLayout = layout
        let source = StaticTargetSource(fleet.targets)
        let stats = try StatsService(source: source, configuration: configuration)

        // Warm-up: opens the per-pod netlink sockets and fills the device tables.
        await stats.housekeepOnce()
        await stats.housekeepOnce()
        let childrenBefore = childCount()
        let cpu0 = cpuSeconds()
        let user0 = userSeconds()
        let wall0 = monotonicMs()
        var snapshot = await stats.housekeepOnce()
        for _ in 1..<rounds { snapshot = await stats.housekeepOnce() }
        let roundCPUms = (cpuSeconds() - cpu0) * 1000 / Double(rounds)
        let roundUserMs = (userSeconds() - user0) * 1000 / Double(rounds)
        let roundWallMs = (monotonicMs() - wall0) / Double(rounds)
        let childrenAfter = childCount()
        let rssAfterRounds = Double(statusField("VmRSS")) / 1024

        // One full pass of the directory walker over every tracked directory.
        let dirs = fleet.targets.pods.flatMap { $0.containers.flatMap { [$0.writableLayerPath, $0.logPath].compactMap { $0 } } }
        let walk0 = cpuSeconds()
        for dir in dirs { _ = try DirectoryUsageWalker(root: dir).finish() }
        let walkCPUms = (cpuSeconds() - walk0) * 1000

        if ProcessInfo_renderProfile {
            let end = monotonicMs() + 8000
            var n = 0
            while monotonicMs() < end { _ = CadvisorMetrics.render(snapshot); n += 1 }
            print("render-profile: \(n) renders in 8 s")
        }
        var renders: [Double] = []
        var renderCPU: [Double] = []
        var body: [UInt8] = []
        for _ in 0..<scrapes {
            let t0 = monotonicMs()
            let c0 = threadCPUms()
            body = CadvisorMetrics.render(snapshot)
            renderCPU.append(threadCPUms() - c0)
            renders.append(monotonicMs() - t0)
        }
        let series = String(decoding: body, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("container_") }.count

        // Over HTTP, through Hummingbird, with curl as the client.
        var httpMedian: Double?
        var cachedTimes: [Double] = []
        if FileSystem.exists("/usr/bin/curl") {
            let port = try freePort()
            let router = Router()
            router.addStatsRoutes(stats.endpoints)
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
            httpMedian = try await withThrowingTaskGroup(of: Void.self) { group -> Double? in
                group.addTask { try await GracefulService.run(app, logger: Logger(label: "bench.http")) }
                defer { group.cancelAll() }
                let url = "http://127.0.0.1:\(port)/metrics/cadvisor"
                for _ in 0..<100 where curlMs(url) == nil { try await Task.sleep(for: .milliseconds(50)) }
                // A fresh round before each scrape: the first scrape of a round renders.
                var times: [Double] = []
                for _ in 0..<min(scrapes, 20) {
                    await stats.housekeepOnce()
                    if let ms = curlMs(url) { times.append(ms) }
                    if let ms = curlMs(url) { cachedTimes.append(ms) }
                }
                return times.isEmpty ? nil : percentile(times, 0.5)
            }
        }

        let rss = Double(statusField("VmRSS")) / 1024

        var naiveCPU: Double?
        var naiveWall: Double?
        if FileSystem.exists(naive) {
            let targetsFile = fleet.scratch + "/naive-targets.json"
            try FileSystem.write(targetsFile, Array(fleet.naiveTargetsJSON().utf8))
            let python = FileSystem.exists("/usr/bin/python3") ? "/usr/bin/python3" : "/usr/local/bin/python3"
            let result = try Subprocess.run(python, arguments: [python, naive, targetsFile, "\(rounds)"], environment: Fleet.environment)
            let text = String(decoding: result.stdout, as: UTF8.self)
            naiveCPU = jsonNumber(text, "cpu_ms_per_round")
            naiveWall = jsonNumber(text, "wall_ms_per_round")
        }

        return Row(count: fleet.count, roundCPUms: roundCPUms, roundUserMs: roundUserMs, roundWallMs: roundWallMs, naiveCPUms: naiveCPU, naiveWallMs: naiveWall,
                   renderCPUMedianMs: percentile(renderCPU, 0.5),
                   renderMedianMs: percentile(renders, 0.5), renderP99Ms: percentile(renders, 0.99), httpMedianMs: httpMedian,
                   httpCachedMedianMs: cachedTimes.isEmpty ? nil : percentile(cachedTimes, 0.5),
                   rssAfterRoundsMiB: rssAfterRounds, scrapeBytes: body.count, containerSeries: series, walkCPUms: walkCPUms, rssMiB: rss,
                   childrenBefore: childrenBefore, childrenAfter: childrenAfter)
    }

    static func jsonNumber(_ text: String, _ key: String) -> Double? {
        guard let range = text.range(of: "\"\(key)\": ") else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." || $0 == "e" || $0 == "-" })
    }
}
