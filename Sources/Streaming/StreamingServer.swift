import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOPosix
import Synchronization

/// Where the streaming server listens and what it tells CRI clients.
public struct StreamingConfiguration: Sendable {
    /// Listen address; kubelet proxies to it, so loopback is the default (containerd's too).
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// How long a URL from Exec/Attach/PortForward stays valid (kubelet: one minute).
    public var tokenTTL: Duration

    public init(host: String = "127.0.0.1", port: Int = 0, tokenTTL: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.tokenTTL = tokenTTL
    }
}

/// What every connection of a streaming server shares.
final class StreamingCore: Sendable {
    let runtime: any StreamingRuntime
    let resolver: (any StreamingResolver)?
    let cache: StreamingRequestCache
    let logger: Logger

    init(runtime: any StreamingRuntime, resolver: (any StreamingResolver)?, ttl: Duration, logger: Logger) {
        self.runtime = runtime
        self.resolver = resolver
        self.cache = StreamingRequestCache(ttl: ttl)
        self.logger = logger
    }

    func request(for route: StreamingRoute, query: String?) async throws -> StreamingRequest {
        switch route {
        case .token(let verb, let token):
            guard let request = cache.consume(token) else { throw StreamingError(status: 404, "unknown or expired streaming token") }
            switch (verb, request) {
            case (.exec, .exec), (.attach, .attach), (.portForward, .portForward): return request
            default: throw StreamingError(status: 400, "token is for another kind of stream")
            }
        case .pod(let verb, let namespace, let pod, let uid, let container):
            guard let resolver else { throw StreamingError(status: 404, "not found") }
            let query = StreamingQuery(query)
            switch verb {
            case .exec, .attach:
                guard let container, let id = await resolver.containerID(namespace: namespace, pod: pod, uid: uid, container: container) else {
                    throw StreamingError(status: 404, "container \(container ?? "") of pod \(namespace)/\(pod) is not running")
                }
                return verb == .exec ? .exec(try query.execOptions(containerID: id)) : .attach(try query.attachOptions(containerID: id))
            case .portForward:
                guard let id = await resolver.sandboxID(namespace: namespace, pod: pod, uid: uid) else {
                    throw StreamingError(status: 404, "pod \(namespace)/\(pod) not found")
                }
                return .portForward(PortForwardOptions(sandboxID: id, ports: try query.ports()))
            }
        }
    }
}

/// The streaming server behind CRI Exec, Attach and PortForward: their answers are URLs here
/// (`/exec/<token>`, `/attach/<token>`, `/portforward/<token>`, single use), and the client
/// (kubelet proxying kubectl, crictl) upgrades to the Kubernetes WebSocket channel protocols.
///
/// The same streams can be served on another HTTP/1 server (the agent's kubelet port, for
/// `/exec/{namespace}/{pod}/{container}`, `/attach/...` and `/portForward/{namespace}/{pod}`)
/// by adding `httpHandler()` to its pipeline; pod paths are resolved by the `resolver`.
public final class StreamingServer: Sendable {
    let core: StreamingCore
    public let configuration: StreamingConfiguration
    private let listener = Mutex<(any Channel)?>(nil)
    private let boundAddress = Mutex<String?>(nil)

    public init(runtime: any StreamingRuntime, resolver: (any StreamingResolver)? = nil,
                configuration: StreamingConfiguration = StreamingConfiguration(), logger: Logger = Logger(label: "swiftlet.streaming")) {
        self.core = StreamingCore(runtime: runtime, resolver: resolver, ttl: configuration.tokenTTL, logger: logger)
        self.configuration = configuration
    }

    /// Binds the listening socket (call once, before `run` and before handing out URLs).
    public func bind() async throws {
        let core = self.core
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(StreamingHTTPHandler(core: core, passThrough: false))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        let port = channel.localAddress?.port ?? configuration.port
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        boundAddress.withLock { $0 = "\(host):\(port)" }
        listener.withLock { $0 = channel }
    }

    /// `http://host:port` of the bound listener.
    public var baseURL: String { "http://" + (boundAddress.withLock { $0 } ?? "\(configuration.host):\(configuration.port)") }

    /// Serves until cancelled, then closes the listener (streams in progress keep going).
    public func run() async throws {
        guard let channel = listener.withLock({ $0 }) else { try await bind(); return try await run() }
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    public func close() {
        listener.withLock { $0?.close(promise: nil) }
    }

    /// The URL CRI Exec answers with.
    public func url(for exec: ExecOptions) throws -> String {
        baseURL + "/exec/" + (try core.cache.insert(.exec(exec)))
    }

    /// The URL CRI Attach answers with.
    public func url(for attach: AttachOptions) throws -> String {
        baseURL + "/attach/" + (try core.cache.insert(.attach(attach)))
    }

    /// The URL CRI PortForward answers with.
    public func url(for portForward: PortForwardOptions) throws -> String {
        baseURL + "/portforward/" + (try core.cache.insert(.portForward(portForward)))
    }

    /// A handler for another HTTP/1 server's pipeline (Hummingbird's `.http1(configuration:
    /// .init(additionalChannelHandlers: [server.httpHandler()]))`): it places itself right
    /// after the HTTP codec, serves the streaming paths, and passes every other request on.
    public func httpHandler() -> any RemovableChannelHandler {
        StreamingPipelineInstaller(core: core)
    }
}

/// Moves the streaming handler to where it sees NIOHTTP1 request parts: in front of
/// Hummingbird's HTTP-types codec when there is one, else where it was added.
final class StreamingPipelineInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let core: StreamingCore

    init(core: StreamingCore) { self.core = core }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        let handler = StreamingHTTPHandler(core: core, passThrough: true)
        do {
            if let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) {
                try pipeline.addHandler(handler, position: .before(codec))
            } else {
                try pipeline.addHandler(handler, position: .after(self))
            }
        } catch {
            core.logger.warning("cannot install the streaming handler: \(error)")
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}
