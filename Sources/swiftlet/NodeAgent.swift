import AgentSupport
import ContainerStats
import ContainerStatsHTTP
import Foundation
import Images
import Kubelet
import Logging
import Networking
import KubeClient
import Runtime
import ServiceProxy
import ServiceLifecycle
import UnixSignals

/// Everything one node runs, assembled once for `swiftlet agent` and `swiftlet up`: runtime
/// (with CNI), kubelet, stats, and the systemd integration (READY, watchdog, STOPPING, the
/// logind shutdown inhibitor for graceful node shutdown).
struct NodeAgent {
    let node: NodeOptions
    let kubeletConfig: KubeletConfig
    let logger: Logger
    var shutdownGrace: Duration = .seconds(30)
    var shutdownGraceCritical: Duration = .seconds(10)
    /// API mode: the kubeconfig the node authenticates with (nil: standalone).
    var kubeconfigPath: String? = nil
    var kubeletPort = 10250
    var nodeIP: String? = nil
    var reserved: [String: Int64] = [:]
    var maxPods = 110

    func run() async throws {
        let store = try ImageStore(rootDir: node.rootDir)
        let network = CNIPodNetwork(options: node.podNetworkOptions,
                                    logger: Logger(label: "swiftlet.network"))
        do { try await network.prepare() } catch { logger.error("pod networking is not ready: \(error)") }
        let runtimeConfig = RuntimeConfig(rootDir: node.rootDir, runDir: node.resolvedRunDir, cgroupRoot: node.cgroupRoot,
                                          shimPath: node.resolvedShimPath, seccompDefault: node.seccompDefault)
        let runtime = try RuntimeService(config: runtimeConfig, images: ImageStoreProvider(store: store), network: network,
                                         logger: Logger(label: "swiftlet.runtime"))
        if runtime.hierarchy.isHybrid {
            logger.notice("cgroup v2 is the unified hierarchy of a hybrid host (\(runtime.hierarchy.mountPoint)); controllers there: \(runtime.hierarchy.rootControllers.sorted().joined(separator: " ")). Pods are grouped, but cpu/memory/pids limits are not enforced.")
        }
        let hostIP = nodeIP ?? HostFacts.nodeIP() ?? "127.0.0.1"
        var api: KubeletAPIConfig? = nil
        var proxyFeed: ClusterProxyFeed? = nil
        if let kubeconfigPath {
            let kubeconfig = try KubeConfig.load(kubeconfigPath)
            let client = try KubeClient(config: kubeconfig)
            let tls = try KubeletServingCertificate.tlsConfiguration(rootDir: node.rootDir, nodeName: kubeletConfig.nodeName, nodeIP: hostIP,
                                                                     clusterCA: kubeconfig.certificateAuthority)
            api = KubeletAPIConfig(client: client, nodeIP: hostIP, podCIDR: node.podCidr, port: kubeletPort, tls: tls, maxPods: maxPods,
                                   reserved: reserved, networkReadiness: { await network.readiness() })
            var proxyConfig = ProxyConfig(nodeName: kubeletConfig.nodeName)
            proxyConfig.clusterCIDRs = IPPrefix(node.podCidr).map { [$0] } ?? []
            let proxier = Proxier(config: proxyConfig, backend: try NetlinkProxyBackend(), logger: Logger(label: "swiftlet.proxy"))
            proxyFeed = ClusterProxyFeed(client: client, proxier: proxier, logger: Logger(label: "swiftlet.proxy"))
            logger.info("API mode: \(kubeconfig.server) as node \(kubeletConfig.nodeName) (\(hostIP)), kubelet port \(kubeletPort)")
        }
        let kubelet = Kubelet(config: kubeletConfig, runtime: runtime, hostIP: hostIP, api: api, logger: Logger(label: "swiftlet.kubelet"))
        var statsConfig = StatsConfiguration()
        statsConfig.housekeepingInterval = try GoDuration.parse(node.housekeepingInterval)
        let stats = try StatsService(source: RuntimeStatsSource(runtime: runtime, nodeName: kubeletConfig.nodeName, rootDir: node.rootDir,
                                                                cgroupRoot: node.cgroupRoot),
                                     configuration: statsConfig)
        let systemd = SystemdService.fromEnvironment(logger: logger)
        logger.info("agent starting: node \(kubeletConfig.nodeName), root \(node.rootDir), run \(node.resolvedRunDir), cgroup root \(node.cgroupRoot); stats from \(stats.layout)")
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await stats.run() }
            group.addTask {
                try await kubelet.run(extraRoutes: { router in router.addStatsRoutes(stats.endpoints, agentMetrics: stats.agentMetrics) },
                                      onReady: { count in
                                          logger.info("ready: \(count) pod(s) running")
                                          systemd.ready(status: "running \(count) pod(s)")
                                      })
            }
            if systemd.watchdog != nil {
                group.addTask { await systemd.runWatchdog { kubelet.isHealthy() } }
            }
            group.addTask { await watchForShutdown(kubelet) }
            if let proxyFeed { group.addTask { await proxyFeed.run() } }
            group.addTask {
                // SIGTERM/SIGINT: say so and leave; pods live on in their shims (KillMode=process).
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    logger.notice("received signal \(signal); stopping the agent, pods keep running")
                    systemd.stopping(status: "stopping; pods keep running")
                    Foundation.exit(0)
                }
            }
        }
    }

    /// Holds logind's shutdown delay lock and stops pods gracefully when the host powers off.
    /// Without a system bus (no systemd/logind) this does nothing.
    func watchForShutdown(_ kubelet: Kubelet) async {
        guard FileManager.default.fileExists(atPath: "/run/dbus/system_bus_socket") else { return }
        do {
            let bus = try await DBusConnection.systemBus()
            let inhibitor = try await LogindShutdownInhibitor.acquire(bus: bus)
            if inhibitor.inhibitDelayMax < shutdownGrace {
                try? await LogindShutdownInhibitor.raiseInhibitDelayMax(to: shutdownGrace, bus: bus)
            }
            logger.info("holding a logind shutdown delay lock (graceful node shutdown within \(shutdownGrace))")
            for await event in inhibitor.events {
                switch event {
                case .shutdownStarting(let grace):
                    logger.notice("node shutdown: stopping pods (logind grants \(grace))")
                    await kubelet.shutdownNode(grace: min(grace, shutdownGrace), criticalGrace: shutdownGraceCritical)
                    inhibitor.release()
                case .shutdownCancelled:
                    try? await inhibitor.reacquire()
                }
            }
        } catch {
            logger.warning("graceful node shutdown unavailable: \(error)")
        }
    }
}
