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
import KubeAPI

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

    @Option(help: "Kubeconfig for the API server (API mode); without it, use --standalone.")
    var kubeconfig: String?

    @Option(help: "Port of the authenticated kubelet API (HTTPS).")
    var port = 10250

    @Option(help: "The node's IP address (default: the first global IPv4 address).")
    var nodeIp: String?

    @Option(help: "Resources kept for Kubernetes system daemons, e.g. cpu=100m,memory=256Mi.")
    var kubeReserved = ""

    @Option(help: "Resources kept for the OS, e.g. cpu=100m,memory=256Mi.")
    var systemReserved = ""

    @Option(help: "Pods this node accepts.")
    var maxPods = 110

    @Option(help: "Duration of the node's Lease (renewed every quarter of it), in seconds.")
    var nodeLeaseDurationSeconds = 40

    @Flag(help: "Route every other node's spec.podCIDR via its InternalIP (nodes on one link, as kubenet/host-gw do).")
    var nodeRoutes = false

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap(JournalLogHandler.factory(level: level))
        let logger = Logger(label: "swiftlet.agent")
        guard standalone || kubeconfig != nil else {
            throw ValidationError("give --kubeconfig FILE (API mode) or --standalone (static pods only)")
        }
        let kubeletConfig = KubeletConfig(nodeName: node.resolvedNodeName, rootDir: node.rootDir, podManifestPath: podManifestPath,
                                          podLogDir: node.podLogDir, readOnlyPort: readOnlyPort, podPidsLimit: node.podMaxPids,
                                          suffixStaticPodNames: !standalone)
        var agent = NodeAgent(node: node, kubeletConfig: kubeletConfig, logger: logger)
        agent.shutdownGrace = .seconds(try HostFacts.duration(shutdownGracePeriod))
        agent.shutdownGraceCritical = .seconds(try HostFacts.duration(shutdownGracePeriodCriticalPods))
        if !standalone {
            agent.kubeconfigPath = kubeconfig
            agent.kubeletPort = port
            agent.nodeIP = nodeIp
            agent.maxPods = maxPods
            agent.nodeRoutes = nodeRoutes
            agent.nodeLeaseDurationSeconds = nodeLeaseDurationSeconds
            agent.reserved = try ReservedResources.parse([kubeReserved, systemReserved])
        }
        try await agent.run()
    }
}

/// `cpu=100m,memory=256Mi` lists summed into milli-CPU and bytes.
enum ReservedResources {
    static func parse(_ lists: [String]) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for list in lists where !list.isEmpty {
            for pair in list.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, let q = try? Quantity(kv[1]) else { throw ValidationError("invalid reservation \"\(pair)\"") }
                out[kv[0], default: 0] += kv[0] == "cpu" ? q.milli : q.value
            }
        }
        return out
    }
}
