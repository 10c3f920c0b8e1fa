import Foundation
import Testing

/// Issue 5 on a pure cgroup v2 host: cpu throttling, OOM events and cgroup memory as the stats
/// collector reports them, compared with the kernel's own files read in the same boot.
@Suite("StatsVMSlowTests", .enabled(if: VMHarness.available, VMHarness.skipMessage))
struct StatsVMSlowTests {
    /// `name{labels} value [timestamp]` samples of one family whose labels contain `match`.
    static func values(_ exposition: String, _ family: String, _ match: String) -> [Double] {
        exposition.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(family + "{"), line.contains(match) else { return nil }
            guard let close = line.lastIndex(of: "}") else { return nil }
            return line[line.index(after: close)...].split(separator: " ").first.flatMap { Double($0) }
        }
    }

    @Test("throttled periods, OOM kills and cgroup memory match the kernel's counters")
    func pureV2Stats() async throws {
        let bench = try #require(VMHarness.builtProduct("stats-bench"))
        let run = try await VMHarness.run(scenario: "stats-v2", binaries: [bench])
        #expect(run.exitCode == 0, "\(run)")
        #expect(run.fact("cgroup_fs") == "cgroup2fs")
        #expect(run.fact("probe_rc") == "0", "\(run.text("out/probe.log"))")
        #expect(run.fact("probe_layout")?.contains("unified") == true)
        let metrics = run.text("out/metrics-cadvisor.txt")

        // Throttling: the counter moved and never exceeds what the kernel shows a moment later.
        let throttled = Self.values(metrics, "container_cpu_cfs_throttled_periods_total", "container=\"burn\"").first ?? 0
        let periods = Self.values(metrics, "container_cpu_cfs_periods_total", "container=\"burn\"").first ?? 0
        #expect(throttled >= 5, "throttled periods \(throttled)")
        #expect(throttled <= Double(run.intFact("burn_nr_throttled") ?? 0))
        #expect(periods >= throttled && periods <= Double(run.intFact("burn_nr_periods") ?? 0))
        #expect((Self.values(metrics, "container_cpu_cfs_throttled_seconds_total", "container=\"burn\"").first ?? 0) > 0)
        #expect(Self.values(metrics, "container_spec_cpu_quota", "container=\"burn\"").isEmpty == false)

        // OOM: the kill the kernel counted is the one we report, and failcnt (memory.events max) too.
        #expect(run.fact("oom_exit_status") == "137")
        let oomKill = try #require(run.intFact("oom_kill"))
        #expect(oomKill >= 1)
        #expect(Self.values(metrics, "container_oom_events_total", "container=\"oom\"").first == Double(oomKill))
        #expect(Self.values(metrics, "container_memory_failcnt", "container=\"oom\"").first == Double(run.intFact("oom_events_max") ?? -1))

        // Memory from memory.current / memory.stat: working set = current - inactive_file.
        let current = Double(try #require(run.intFact("mem_current")))
        let inactive = Double(try #require(run.intFact("mem_inactive_file")))
        let workingSet = try #require(Self.values(metrics, "container_memory_working_set_bytes", "container=\"mem\"").first)
        #expect(workingSet >= 32 * 1024 * 1024)
        #expect(abs(workingSet - (current - inactive)) <= 1024 * 1024, "working set \(workingSet) vs kernel \(current - inactive)")
        #expect((Self.values(metrics, "container_memory_rss", "container=\"mem\"").first ?? 0) >= 32 * 1024 * 1024)
        #expect(Self.values(metrics, "container_memory_cache", "container=\"mem\"").isEmpty == false)
        #expect(Self.values(metrics, "container_memory_max_usage_bytes", "container=\"mem\"").first.map { $0 >= workingSet } == true)
        // The pod cgroup is hierarchical over its three containers.
        let podWorkingSet = Self.values(metrics, "container_memory_working_set_bytes", "container=\"\",id=\"/vm-stats/pod\"").first ?? 0
        #expect(podWorkingSet >= workingSet)
        if run.exitCode == 0 { run.removeShare() }
    }
}
