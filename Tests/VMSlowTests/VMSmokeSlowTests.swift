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
        #expect(run.exitCode == 0, "\(run)")

        // cgroup2 is the only cgroup hierarchy, with the controllers the agent relies on.
        #expect(run.fact("cgroup_fs") == "cgroup2fs")
        #expect(run.fact("cgroup_mounts") == "cgroup2:/sys/fs/cgroup")
        let controllers = Set((run.fact("root_controllers") ?? "").split(separator: " ").map(String.init))
        #expect(controllers.isSuperset(of: ["cpu", "memory", "pids", "io"]), "root controllers: \(controllers)")
        #expect(run.fact("pid1") == "systemd")

        // A host-built Swift binary runs in the guest, also as a systemd service.
        #expect(run.fact("swift_binary_rc") == "0")
        #expect(run.fact("swift_binary_first_line")?.contains("OVERVIEW") == true)
        #expect(run.fact("swift_service_rc") == "0")

        // memory.max=50M with a 100M allocation: killed by the memory cgroup's OOM killer.
        #expect(run.intFact("oom_memory_max") == 50 * 1024 * 1024)
        #expect(run.intFact("oom_exit_status") == 137, "SIGKILL expected: \(run.facts)")
        #expect((run.intFact("oom_kill_events") ?? 0) >= 1, "memory.events oom_kill: \(run.facts)")

        // pids.max=8 stops a burst of 20 forks, and pids.events counts the refusals.
        #expect(run.intFact("pids_max") == 8)
        #expect((run.intFact("pids_current_after_bomb") ?? 99) <= 8)
        #expect((run.intFact("pids_max_events") ?? 0) >= 1)

        // cpu.max 10 ms / 100 ms throttles a busy loop.
        #expect(run.fact("cpu_max") == "10000 100000")
        #expect((run.intFact("cpu_nr_throttled") ?? 0) >= 1)

        if run.exitCode == 0 { run.removeShare() }
    }
}
