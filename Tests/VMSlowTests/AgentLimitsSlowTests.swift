import Foundation
import Testing

/// Issue 2's proof on a pure cgroup v2 host: the agent enforces resources.limits.memory (the pod
/// ends OOMKilled, exit 137, the agent lives on) and pids.max (a fork bomb is contained).
/// Turns itself on once the `swiftlet agent --standalone` verb exists in the built binary.
@Suite("AgentLimitsVMSlowTests", .enabled(if: AgentProbe.reason == nil, AgentProbe.comment))
struct AgentLimitsVMSlowTests {
    @Test("pod over its memory limit ends OOMKilled (137) with the agent alive; fork bomb stopped by pids.max")
    func memoryAndPidsLimits() async throws {
        let binaries = try VMHarness.nodeBinaries()
        let run = try await VMHarness.run(scenario: "agent-limits", binaries: binaries)
        let pidsMax = run.intFact("bomb_pids_max")
        VMCheck.expectAll([
            VMCheck(run.exitCode == 0, "run.sh exit \(run.exitCode)"),
            VMCheck(run.fact("image_import_rc") == "0", "image import: \(run.text("out/import.log"))"),
            VMCheck(run.fact("agent_healthz_at_start") == "0", "agent answers /healthz"),
            // Memory: the kernel's OOM kill is reported the way kubelet reports it.
            VMCheck(run.fact("oom_pod_reason") == "OOMKilled", "container terminated with reason OOMKilled"),
            VMCheck(run.fact("oom_pod_exit_code") == "137", "container exit code 137"),
            VMCheck(run.fact("oom_pod_phase") == "Failed", "pod phase Failed (restartPolicy Never)"),
            VMCheck(run.intFact("oom_pod_memory_max") == 64 * 1024 * 1024,
                    "memory.max 64Mi under pod cgroup \(run.fact("oom_pod_cgroup") ?? "?")"),
            VMCheck((run.intFact("oom_pod_oom_kills") ?? 0) >= 1, "memory.events oom_kill in the pod cgroup"),
            VMCheck(run.fact("agent_alive_after_oom") == "0", "agent alive after the OOM kill"),
            VMCheck(run.fact("agent_healthz_after_oom") == "0", "agent healthy after the OOM kill"),
            // pids: the agent's own limit (--pod-max-pids 100) holds the bomb inside the pod's
            // subtree, well below the outer 4096 the scenario puts on the whole --cgroup-root.
            VMCheck(pidsMax == 100, "pids.max in the bomb pod's subtree is --pod-max-pids (\(run.fact("bomb_pids_max") ?? "none"))"),
            VMCheck((run.intFact("bomb_pids_current") ?? Int.max) <= (pidsMax ?? 0), "pids.current within pids.max"),
            VMCheck((run.intFact("bomb_pids_max_events") ?? 0) >= 1, "pids.events max > 0"),
            VMCheck(run.fact("bomb_cpu_max") == "20000 100000", "cpu limit 200m -> cpu.max 20000 100000"),
            VMCheck(run.fact("agent_alive_during_bomb") == "0", "agent alive during the bomb"),
            VMCheck(run.fact("agent_healthz_during_bomb") == "0", "agent healthy during the bomb"),
            // Deleting the manifests removes the pods' cgroups; the agent is still there.
            VMCheck(run.fact("pod_cgroups_removed") == "0", "pod cgroups removed after the manifests"),
            VMCheck(run.fact("agent_alive_at_end") == "0", "agent alive at the end"),
        ], run, detail: run.text("out/agent.log"))
    }
}

/// Whether the built binary has the agent verbs the scenario drives (the agent is being written
/// in parallel); the reason when not, so the skip message says what is missing.
enum AgentProbe {
    static let reason: String? = {
        if let unavailable = VMHarness.unavailableReason { return unavailable }
        guard let swiftlet = VMHarness.builtProduct("swiftlet") else { return "swiftlet not built" }
        guard VMHarness.builtProduct("swiftlet-shim") != nil else { return "swiftlet-shim not built" }
        let help = helpText(swiftlet, ["agent", "--help"])
        for flag in ["--standalone", "--pod-manifest-path", "--cgroup-root", "--read-only-port"] where !help.contains(flag) {
            return "`swiftlet agent` has no \(flag) yet"
        }
        return nil
    }()

    static var comment: Comment { Comment(rawValue: "agent VM scenario skipped: \(reason ?? "")") }

    static func helpText(_ binary: URL, _ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
