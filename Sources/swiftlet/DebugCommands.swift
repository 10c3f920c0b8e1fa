import ArgumentParser
import Foundation
import Kubelet
import LinuxPrimitives
import Runtime

/// `swiftlet pods`: the pods this host's agent runs, read from its state directory.
struct PodsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pods", abstract: "List the pods on this host.")
    @OptionGroup var node: NodeOptions

    func run() throws {
        let inventory = RuntimeInventory(runDir: node.resolvedRunDir)
        var rows = [["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "IP", "SANDBOX"]]
        for e in inventory.entries {
            let latest = Dictionary(grouping: e.containers, by: { $0.record.config.name }).compactMapValues { $0.max { $0.record.createdAt < $1.record.createdAt } }
            let running = latest.values.filter { $0.state.map { !$0.exited && $0.pid > 0 } ?? false }.count
            let restarts = latest.values.map { Int($0.record.config.attempt) }.reduce(0, +)
            let status = e.sandbox.state == .ready ? (running == latest.count && running > 0 ? "Running" : "Waiting") : "NotReady"
            rows.append([e.sandbox.config.namespace, e.sandbox.config.name, "\(running)/\(latest.count)", status, String(restarts),
                         e.sandbox.network?.ips.first ?? "-", String(e.sandbox.id.prefix(12))])
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).map { $0.0.padding(toLength: $0.1 + 3, withPad: " ", startingAt: 0) }.joined().trimmingCharacters(in: .whitespaces))
        }
    }
}

/// `swiftlet logs POD [CONTAINER]`: a container's log as `kubectl logs` shows it.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a container's log.")
    @OptionGroup var node: NodeOptions
    @Argument(help: "Pod name, or namespace/name.") var pod: String
    @Argument(help: "Container name (default: the first).") var container: String?
    @Flag(name: .shortAndLong, help: "Keep printing as the log grows.") var follow = false
    @Option(help: "Only the last N lines.") var tail: Int?
    @Flag(help: "Prefix each line with its timestamp.") var timestamps = false

    func run() throws {
        guard let entry = RuntimeInventory(runDir: node.resolvedRunDir).pod(pod) else { throw ValidationError("pod \(pod) not found on this host") }
        guard let c = RuntimeInventory.container(entry, name: container) else { throw ValidationError("container \(container ?? "") not found in pod \(pod)") }
        let reader = ContainerLogReader(path: c.record.logPath, timestamps: timestamps, tailLines: tail)
        var (text, offset) = reader.read()
        FileHandle.standardOutput.write(Data(text))
        while follow {
            Thread.sleep(forTimeInterval: 0.2)
            (text, offset) = reader.readFrom(offset)
            FileHandle.standardOutput.write(Data(text))
        }
    }
}

/// `swiftlet exec POD [-c CONTAINER] -- CMD...`: a process in the container's namespaces,
/// cgroup, root file system and security settings, with this terminal's stdio.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a command in a container.")
    @OptionGroup var node: NodeOptions
    @Argument(help: "Pod name, or namespace/name.") var pod: String
    @Option(name: .shortAndLong, help: "Container name (default: the first).") var container: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments.") var command: [String]

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("no command given (use: swiftlet exec POD -- CMD...)") }
        guard let entry = RuntimeInventory(runDir: node.resolvedRunDir).pod(pod) else { throw ValidationError("pod \(pod) not found on this host") }
        guard let c = RuntimeInventory.container(entry, name: container) else { throw ValidationError("container \(container ?? "") not found in pod \(pod)") }
        let code = try ExecClient.run(sandboxDir: entry.sandboxDir, containerID: c.record.id, command: command, stdin: 0, stdout: 1, stderr: 2)
        throw ExitCode(code)
    }
}
