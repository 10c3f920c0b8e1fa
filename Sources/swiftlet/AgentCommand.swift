import ArgumentParser
import ContainerStats
import ContainerStatsHTTP
import Foundation
import Images
import Kubelet
import Logging
import Networking
import Runtime
import AgentSupport

/// `swiftlet agent`: the node agent. With `--standalone` it runs static pods from
/// `--pod-manifest-path` and serves the read-only kubelet port, with no API server.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run the node agent.")

    @OptionGroup var node: NodeOptions

    @Flag(help: "Run without an API server: static pods only.")
    var standalone = false

    @Option(help: "Directory of static pod manifests (YAML or JSON), watched for changes.")
    var podManifestPath = ""

    @Option(help: "Port of the read-only kubelet API on 127.0.0.1 (0 disables).")
    var readOnlyPort = 10255

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    @Option(help: "How long a node shutdown may take to stop pods (a duration such as 30s).")
    var shutdownGracePeriod = "30s"

    @Option(help: "The part of --shutdown-grace-period kept for critical pods.")
    var shutdownGracePeriodCriticalPods = "10s"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap(JournalLogHandler.factory(level: level))
        let logger = Logger(label: "swiftlet.agent")
        guard standalone else {
            throw ValidationError("only --standalone is available in this build; API mode needs --kubeconfig")
        }
        let kubeletConfig = KubeletConfig(nodeName: node.resolvedNodeName, rootDir: node.rootDir, podManifestPath: podManifestPath,
                                          podLogDir: node.podLogDir, readOnlyPort: readOnlyPort, podPidsLimit: node.podMaxPids)
        var agent = NodeAgent(node: node, kubeletConfig: kubeletConfig, logger: logger)
        agent.shutdownGrace = .seconds(try HostFacts.duration(shutdownGracePeriod))
        agent.shutdownGraceCritical = .seconds(try HostFacts.duration(shutdownGracePeriodCriticalPods))
        try await agent.run()
    }
}
