import ContainerStats
import CRIAPI
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Images
import LinuxPrimitives
import Logging
import Runtime
import Streaming
import Synchronization

/// Settings of the CRI service beyond the runtime's own.
public struct CRISettings: Sendable {
    public var runtimeName = "swiftlet"
    public var runtimeVersion = "0.1.0"
    /// Registries pulled over plain HTTP (`--insecure-registry host:port`).
    public var insecureRegistries: Set<String> = []

    public init(insecureRegistries: Set<String> = []) {
        self.insecureRegistries = insecureRegistries
    }

    /// The socket path of a `unix://` endpoint (`unix:///run/swiftlet/cri.sock`), or a plain path.
    public static func socketPath(endpoint: String) throws -> String {
        let path = endpoint.hasPrefix("unix://") ? String(endpoint.dropFirst("unix://".count)) : endpoint
        guard path.hasPrefix("/"), !endpoint.contains("://") || endpoint.hasPrefix("unix://") else {
            throw Runtime.RuntimeError(.invalid, "--container-runtime-endpoint \"\(endpoint)\": only unix:///absolute/path endpoints are supported")
        }
        return path
    }
}

/// The CRI v1 gRPC service (RuntimeService and ImageService) on a unix socket, 0600 and owned
/// by root, plus the streaming server its Exec/Attach/PortForward URLs point to.
public final class CRIServer: Sendable {
    public let socketPath: String
    let runtimeHandler: CRIRuntimeHandler
    let imageHandler: CRIImageHandler
    let streaming: StreamingServer
    let logger: Logger

    /// - Parameters:
    ///   - stats: the stats module's service when the process runs one (the agent); nil for a
    ///     CRI-only process, which then samples on demand with a private one.
    public init(socketPath: String, runtime: RuntimeService, images: ImageStore, streaming: StreamingServer, stats: StatsService?,
                settings: CRISettings = CRISettings(), logger: Logger = Logger(label: "swiftlet.cri")) {
        self.socketPath = socketPath
        self.streaming = streaming
        self.logger = logger
        self.runtimeHandler = CRIRuntimeHandler(runtime: runtime, images: images, streaming: streaming, stats: CRIStats(service: stats),
                                                events: ContainerEventHub(), settings: settings, podCIDR: LockedValue(""), logger: logger)
        self.imageHandler = CRIImageHandler(store: images, settings: settings, logger: logger)
    }

    /// Binds the socket and serves until the task is cancelled; the socket file is removed then.
    public func run() async throws {
        let listener = try UnixStreamListener.bind(path: socketPath)
        let transport = HTTP2ServerTransport.Posix.http2NIOPosix(listeningSocketDescriptor: Int(listener.rawValue),
                                                                 transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [runtimeHandler, imageHandler])
        logger.info("CRI v1 on unix://\(socketPath); streaming server at \(streaming.baseURL)")
        defer {
            runtimeHandler.events.finishAll()
            _ = try? FileSystem.removeFile(socketPath)
        }
        try await withTaskCancellationHandler {
            try await server.serve()
        } onCancel: {
            server.beginGracefulShutdown()
        }
    }

    /// Forwards the runtime's container exits to GetContainerEvents subscribers; for a process
    /// where nothing else consumes `runtime.events` (`swiftlet cri`).
    public func forwardRuntimeEvents(_ events: AsyncStream<RuntimeEvent>) async {
        for await event in events {
            switch event {
            case .containerExited(let sandboxID, let containerID):
                runtimeHandler.publishEvent(.containerStoppedEvent, containerID: containerID, sandboxID: sandboxID)
            case .sandboxLost(let sandboxID):
                for c in runtimeHandler.runtime.listContainers(sandboxID: sandboxID) {
                    runtimeHandler.publishEvent(.containerStoppedEvent, containerID: c.id, sandboxID: sandboxID)
                }
            }
        }
    }
}
