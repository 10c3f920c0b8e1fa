import Foundation
import Testing

/// Issue 8 on a real systemd host: scripts/install.sh puts the build and units in place, the agent
/// runs as swiftlet-agent.service, survives `systemctl restart` and SIGKILL without touching its
/// containers, limits hold, and on `systemctl poweroff` pods stop gracefully before the agent's
/// unit goes down. What needs the agent's own systemd wiring (READY=1 and the watchdog; the
/// logind inhibitor for graceful shutdown) is checked as soon as the running agent shows it
/// (READY arrived; a "swiftlet" inhibitor lock is listed) and reported as a known issue before.
@Suite("SystemdVMSlowTests", .enabled(if: AgentProbe.reason == nil, AgentProbe.comment))
struct SystemdVMSlowTests {
    @Test("install, restart and SIGKILL keep containers, limits hold, watchdog restarts, poweroff stops pods gracefully")
    func agentUnderSystemd() async throws {
        let binaries = try VMHarness.nodeBinaries()
        let root = VMHarness.packageRoot
        let run = try await VMHarness.run(
            scenario: "systemd", binaries: binaries,
            extraFiles: [(root.appendingPathComponent("systemd"), "repo/systemd"),
                         (root.appendingPathComponent("scripts/install.sh"), "repo/scripts/install.sh")])
        let witness = run.keyValues("out/witness")
        let markers = ["web-a", "web-b"].map { run.text("out/markers/\($0)") }
        let pids = run.fact("container_pids") ?? ""

        // Read everything now: expectAll removes the share folder when its checks pass.
        let all = run.facts
        let facts = { (key: String) in all[key] }
        let intFacts = { (key: String) in all[key].flatMap { Int($0) } }
        // Needs READY=1 from the agent (Type=notify) and WATCHDOG=1 keep-alives.
        try withKnownIssue("the agent does not send READY=1 yet (wire AgentSupport.SystemdService, docs/systemd.md)") {
            try #require(facts("agent_ready") == "1")
            #expect(facts("watchdog_restarted") == "0", "SIGSTOPped agent restarted by the watchdog")
            #expect((intFacts("watchdog_journal") ?? 0) >= 1, "journal says Watchdog timeout")
            #expect(facts("watchdog_same_containers") == "1", "watchdog restart kept the containers")
        } when: { facts("agent_ready") != "1" }

        // Needs the logind delay lock and pod shutdown on PrepareForShutdown in the agent.
        try withKnownIssue("the agent takes no logind inhibitor lock yet (wire AgentSupport.LogindShutdownInhibitor)") {
            try #require(facts("agent_inhibitor_held") == "1")
            #expect(markers.allSatisfy { $0.hasPrefix("graceful") }, "every pod's SIGTERM handler ran: \(markers)")
            #expect(witness["containers_alive"] == "0", "pods were stopped before the agent's unit went down: \(witness)")
        } when: { facts("agent_inhibitor_held") != "1" }

        VMCheck.expectAll([
            VMCheck(run.exitCode == 0, "run.sh exit \(run.exitCode)"),
            VMCheck(run.fact("install_rc") == "0", "scripts/install.sh: \(run.text("out/install.log"))"),
            VMCheck(run.fact("units_verify") == "", "systemd-analyze verify of the installed units: \(run.fact("units_verify") ?? "?")"),
            VMCheck(run.fact("ip_forward") == "1", "sysctl drop-in applied"),
            VMCheck(run.fact("tmpfiles_dirs") == "/run/swiftlet /var/log/pods", "tmpfiles.d applied"),
            VMCheck(run.fact("binary_installed") == "1", "binaries in /usr/local/bin"),
            VMCheck(run.fact("image_import_rc") == "0", "image import"),
            VMCheck(run.fact("agent_active") == "active", "swiftlet-agent.service active"),
            VMCheck(run.fact("pods_running") == "0", "both pods Running in /pods"),
            VMCheck(pids.split(separator: ",").count == 2, "two container processes: \(pids)"),
            VMCheck((run.fact("pod_memory_max") ?? "").contains("67108864"), "memory.max 64Mi in force: \(run.fact("pod_memory_max") ?? "")"),
            VMCheck((run.fact("pod_cpu_max") ?? "").contains("25000 100000"), "cpu.max 250m in force: \(run.fact("pod_cpu_max") ?? "")"),
            VMCheck(run.fact("restart_rc") == "0" && run.fact("restart_new_main") == "1", "systemctl restart gave a new agent"),
            VMCheck(run.fact("restart_same_containers") == "1", "restart kept the same container PIDs"),
            VMCheck(run.fact("sigkill_restarted") == "0", "SIGKILL: Restart=always brought the agent back"),
            VMCheck(run.fact("sigkill_same_containers") == "1", "SIGKILL kept the same container PIDs"),
            VMCheck((run.intFact("n_restarts") ?? 0) >= 1, "NRestarts counts the crash"),
            VMCheck(run.fact("poweroff_returned") == nil, "systemctl poweroff took the VM down"),
            VMCheck(witness["witness_time"] != nil, "an orderly shutdown: the witness ran after the agent's unit stopped"),
        ], run, detail: run.text("out/journal.txt"))
    }
}
