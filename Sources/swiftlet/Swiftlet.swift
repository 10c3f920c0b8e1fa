import ArgumentParser

/// The `swiftlet` command: one binary for the agent, the API server and the host-side verbs.
@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kubernetes node agent on raw Linux primitives.",
        subcommands: [AgentCommand.self, CRICommand.self, ImageCommand.self, PodsCommand.self, LogsCommand.self, ExecCommand.self, ProxyCommand.self,
                      UpCommand.self, APIServerCommand.self, JoinCommand.self])
}
