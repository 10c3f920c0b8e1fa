import ArgumentParser
import LinuxPrimitives

/// The `swiftlet` command: one binary for the agent, the API server and the host-side verbs.
@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kubernetes node agent on raw Linux primitives.",
        subcommands: [AgentCommand.self, CRICommand.self, ImageCommand.self, PodsCommand.self, LogsCommand.self, ExecCommand.self, ProxyCommand.self,
                      UpCommand.self, APIServerCommand.self, JoinCommand.self])

    /// Two malloc arenas for the whole process, set before any thread starts: the agent's
    /// short-lived threads otherwise leave up to 16 arenas of freed memory behind.
    static func main() async {
        ProcessHeap.limitArenas(2)
        await main(nil)
    }
}
