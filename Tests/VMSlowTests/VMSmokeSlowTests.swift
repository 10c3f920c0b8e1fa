import Foundation
import Testing

/// The VM itself is what the cgroup-limit tests claim it is: a pure cgroup v2 host with
/// controllers where our binaries run and the kernel enforces memory.max, pids.max and cpu.max.
/// One boot for every check.
@Suite("VMSmokeSlowTests", .enabled(if: VMHarness.available, VMHarness.skipMessage))
struct VMSmokeSlowTests {
    @Test("pure cgroup v2 guest: controllers, Swift binary runs, memory.max OOM-kills, pids.max and cpu.max hold")
    func pureCgroupV2Guest() async throws {
        let swiftlet = try #require(VMHarness.builtProduct("swiftlet"), "swiftlet not built beside the tests (swift build)")
        let run = try await VMHarness.run(scenario: "smoke", binaries: [swiftlet])
        let controllers = Set((run.fact("root_controllers") ?? "").split(separator: " ").map(String.init))
        let pidsMax = run.intFact("pids_max") ?? 0
        VMCheck.expectAll([
            VMCheck(run.exitCode == 0, "run.sh exit \(run.exitCode)"),
            // cgroup2 is the only cgroup hierarchy, with the controllers the agent relies on.
            VMCheck(run.fact("cgroup_fs") == "cgroup2fs", "cgroup2 at /sys/fs/cgroup"),
            VMCheck(run.fact("cgroup_mounts") == "cgroup2:/sys/fs/cgroup", "no other cgroup mount"),
            VMCheck(controllers.isSuperset(of: ["cpu", "memory", "pids", "io"]), "root controllers \(controllers)"),
            VMCheck(run.fact("pid1") == "systemd", "systemd is PID 1"),
            // A host-built Swift binary runs in the guest, also as a systemd service.
            VMCheck(run.fact("swift_binary_rc") == "0", "swiftlet --help exits 0"),
            VMCheck(run.fact("swift_binary_first_line")?.contains("OVERVIEW") == true, "swiftlet --help prints its overview"),
            VMCheck(run.fact("swift_service_rc") == "0", "swiftlet runs as a transient systemd service"),
            // memory.max=50M with a 100M allocation: killed by the memory cgroup's OOM killer.
            VMCheck(run.intFact("oom_memory_max") == 50 * 1024 * 1024, "memory.max is 50M"),
            VMCheck(run.intFact("oom_exit_status") == 137, "the 100M allocation ends with SIGKILL (137)"),
            VMCheck((run.intFact("oom_kill_events") ?? 0) >= 1, "memory.events counts the oom_kill"),
            // pids.max=8 stops a burst of 20 forks, and pids.events counts the refusals.
            VMCheck(pidsMax == 8, "pids.max is 8"),
            VMCheck((run.intFact("pids_current_after_bomb") ?? 99) <= 8, "pids.current stays within pids.max"),
            VMCheck((run.intFact("pids_max_events") ?? 0) >= 1, "pids.events counts refused forks"),
            // cpu.max 10 ms / 100 ms throttles a busy loop.
            VMCheck(run.fact("cpu_max") == "10000 100000", "cpu.max written"),
            VMCheck((run.intFact("cpu_nr_throttled") ?? 0) >= 1, "cpu.stat nr_throttled > 0"),
        ], run, detail: run.stdout)
    }
}
