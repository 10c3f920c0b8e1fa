import ArgumentParser
import ContainerStats
import CRI
import Foundation
import Images
import Logging
import Networking
import Runtime
import ServiceLifecycle
import Streaming

/// `swiftlet cri`: only the container runtime, behind the CRI v1 gRPC API (for crictl, the CRI
/// validation suite, or a kubelet of its own). Pods outlive this process: a restart re-adopts
/// them from the run directory.
struct CRICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cri", abstract: "Serve the CRI v1 API (runtime and images, no kubelet).")

    @OptionGroup var node: NodeOptions
    @OptionGroup var cri: CRIOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swiftlet.cri")
        let socketPath = try cri.socketPath(runDir: node.resolvedRunDir)
        let store = try ImageStore(rootDir: node.rootDir)
        let runtimeConfig = RuntimeConfig(rootDir: node.rootDir, runDir: node.resolvedRunDir, cgroupRoot: node.cgroupRoot,
                                          shimPath: node.resolvedShimPath, seccompDefault: node.seccompDefault)
        let network = CNIPodNetwork(options: node.podNetworkOptions, logger: Logger(label: "swiftlet.network"))
        do { try await network.prepare() } catch { logger.error("pod networking is not ready: \(error)") }
        let runtime = try RuntimeService(config: runtimeConfig, images: ImageStoreProvider(store: store), network: network,
                                         logger: Logger(label: "swiftlet.runtime"))
        let adopted = await runtime.recover()
        logger.info("re-adopted \(adopted.count) pod sandbox(es)")
        let stats = try StatsService(source: RuntimeStatsSource(runtime: runtime, nodeName: node.resolvedNodeName, rootDir: node.rootDir,
                                                                cgroupRoot: node.cgroupRoot))
        let streaming = StreamingServer(runtime: RuntimeStreamingAdapter(runtime: runtime), configuration: cri.streaming,
                                        logger: Logger(label: "swiftlet.streaming"))
        try await streaming.bind()
        let server = CRIServer(socketPath: socketPath, runtime: runtime, images: store, streaming: streaming, stats: stats,
                               settings: cri.settings, logger: logger)
        let service = CRIProcess(server: server, streaming: streaming, stats: stats, events: runtime.events)
        try await ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

/// The CRI server, its streaming server, the runtime's exit events and the stats walker as one
/// service that stops on SIGTERM (pods keep running).
struct CRIProcess: Service {
    let server: CRIServer
    let streaming: StreamingServer
    let stats: StatsService?
    let events: AsyncStream<RuntimeEvent>?

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await server.run() }
                    group.addTask { try await streaming.run() }
                    if let events { group.addTask { await server.forwardRuntimeEvents(events) } }
                    if let stats { group.addTask { try await stats.runFilesystemWalker() } }
                }
            }
        } catch is CancellationError {
            // SIGTERM is the normal way to stop: exit 0, not "Error: CancellationError()" and
            // status 1, which systemd would record as a failed stop.
            return
        }
    }
}
