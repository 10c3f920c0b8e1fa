import ArgumentParser
import ContainerStats
import ContainerStatsHTTP
import Foundation
import Images
import Kubelet
import Logging
import Networking
import Runtime

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

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swiftlet.agent")
        guard standalone else {
            throw ValidationError("only --standalone is available in this build; API mode needs --kubeconfig")
        }
        let store = try ImageStore(rootDir: node.rootDir)
        let runtimeConfig = RuntimeConfig(rootDir: node.rootDir, runDir: node.resolvedRunDir, cgroupRoot: node.cgroupRoot,
                                          shimPath: node.resolvedShimPath, seccompDefault: node.seccompDefault)
        let network = CNIPodNetwork(options: PodNetworkOptions(confDir: node.cniConfDir, binDir: node.cniBinDir, podCIDR: node.podCidr),
                                    logger: Logger(label: "swiftlet.network"))
        do { try await network.prepare() } catch { logger.error("pod networking is not ready: \(error)") }
        let runtime = try RuntimeService(config: runtimeConfig, images: ImageStoreProvider(store: store), network: network,
                                         logger: Logger(label: "swiftlet.runtime"))
        if runtime.hierarchy.isHybrid {
            logger.notice("cgroup v2 is the unified hierarchy of a hybrid host (\(runtime.hierarchy.mountPoint)); controllers there: \(runtime.hierarchy.rootControllers.sorted().joined(separator: " ")). Pods are grouped, but cpu/memory/pids limits are not enforced.")
        }
        let kubeletConfig = KubeletConfig(nodeName: node.resolvedNodeName, rootDir: node.rootDir, podManifestPath: podManifestPath,
                                          podLogDir: node.podLogDir, readOnlyPort: readOnlyPort, podPidsLimit: node.podMaxPids)
        let kubelet = Kubelet(config: kubeletConfig, runtime: runtime, hostIP: HostFacts.nodeIP() ?? "", logger: Logger(label: "swiftlet.kubelet"))
        var statsConfig = StatsConfiguration()
        statsConfig.housekeepingInterval = try GoDuration.parse(node.housekeepingInterval)
        let stats = try StatsService(source: RuntimeStatsSource(runtime: runtime, nodeName: kubeletConfig.nodeName, rootDir: node.rootDir,
                                                                cgroupRoot: node.cgroupRoot),
                                     configuration: statsConfig)
        logger.info("agent starting: node \(kubeletConfig.nodeName), root \(node.rootDir), run \(node.resolvedRunDir), cgroup root \(node.cgroupRoot); stats from \(stats.layout)")
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await stats.run() }
            group.addTask {
                try await kubelet.run { router in router.addStatsRoutes(stats.endpoints, agentMetrics: stats.agentMetrics) }
            }
        }
    }
}
