import Foundation
import LinuxPrimitives
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The bundled Kubernetes API server as a swift-service-lifecycle `Service`: `run()` serves
/// until cancelled or gracefully shut down; `waitUntilReady()` reports where it listens once
/// the listener is bound and the admin kubeconfig written. Holds no process-global state, so
/// several can run in one process (tests) or next to the agent (`swiftlet up`).
public final class APIServer: Service, Sendable {
    public let configuration: APIServerConfiguration
    let logger: Logger
    let cidr: ServiceAllocator.CIDR
    private let ready = ReadySignal<APIServerEndpoint>()

    public init(configuration: APIServerConfiguration, logger: Logger = Logger(label: "swiftlet.apiserver")) throws {
        self.configuration = configuration
        self.logger = logger
        do {
            cidr = try ServiceAllocator.CIDR(parsing: configuration.serviceClusterIPRange)
        } catch {
            throw APIServerError.setup(error.message)
        }
        guard (0...65535).contains(configuration.securePort) else {
            throw APIServerError.setup("--secure-port \(configuration.securePort): must be between 0 and 65535")
        }
    }

    /// Suspends until the server accepts requests (or throws if it failed to start).
    public func waitUntilReady() async throws -> APIServerEndpoint { try await ready.wait() }

    public func run() async throws {
        do {
            try await serve()
        } catch is ShutdownRequested {
            logger.info("API server stopped")
        } catch {
            ready.fail(error)
            throw error
        }
    }

    private func serve() async throws {
        let dir = DataDirectory(configuration.dataDir)
        try dir.prepare()
        let ca = try dir.certificateAuthority()
        let token = try dir.adminToken()
        var tokens = [Authenticator.TokenEntry(token: token, user: UserInfo(name: "admin", uid: "admin", groups: ["system:masters"]))]
        if let file = configuration.tokenAuthFile {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw APIServerError.setup("--token-auth-file \(file): \(error.localizedDescription)")
            }
            do {
                tokens += try Authenticator.parseTokenFile(text, path: file)
            } catch let e as APIError {
                throw APIServerError.setup("--token-auth-file \(e.message)")
            }
        }
        let serving = try dir.servingCertificate(ca: ca, sans: sans())
        let kubeletClient = try dir.kubeletClientCertificate(ca: ca)

        let store = try Store(path: dir.databasePath, hubMaxEvents: configuration.watchWindowEvents, hubMaxBytes: configuration.watchWindowBytes)
        let allocator = ServiceAllocator(range: cidr)
        let registry = Registry(store: store, allocator: allocator, logger: logger)
        allocator.load(services: try registry.list(ResourceRegistry.services, namespace: nil))
        try Seed.ensure(registry, allocator: allocator, securePort: configuration.securePort == 0 ? 6443 : configuration.securePort,
                        endpointAddress: endpointAddress())

        var tlsConfig = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(serving.cert.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(serving.key.utf8), format: .pem)))
        tlsConfig.certificateVerification = .optionalVerification
        tlsConfig.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.certificatePEM.utf8)))
        tlsConfig.applicationProtocols = ["http/1.1"]
        let tls = try NIOSSLContext(configuration: tlsConfig)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(2, System.coreCount))
        defer { group.shutdownGracefully { _ in } }
        let kubelet = try KubeletProxy(caPEM: ca.certificatePEM, clientCertPEM: kubeletClient.cert, clientKeyPEM: kubeletClient.key,
                                       group: group, logger: logger)
        let server = HTTPServer(host: configuration.bindAddress, port: configuration.securePort, tls: tls, group: group, logger: logger)
        let config = configuration
        let logger = self.logger
        let ready = self.ready
        let authenticator = Authenticator(tokens: tokens, bootstrapSecret: { name in
            try? store.get(ObjectKey("secrets", BootstrapToken.namespace, name))
        })
        let publicServer = endpointAddress().map { "https://\($0):" }

        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask {
                try await server.run(
                    makeHandler: { port in
                        let url = Kubeconfig.serverURL(bindAddress: config.bindAddress, port: port)
                        let handler = APIHandler(registry: registry, authenticator: authenticator, kubelet: kubelet, logger: logger,
                                                 serverAddress: url.replacingOccurrences(of: "https://", with: ""),
                                                 watchTimeout: config.watchTimeout)
                        do {
                            try dir.writeAdminKubeconfig(server: url, ca: ca, token: token)
                        } catch {
                            ready.fail(error)
                            return handler.handle
                        }
                        do {
                            try ClusterInfo.ensure(registry, server: publicServer.map { $0 + String(port) } ?? url, caPEM: ca.certificatePEM)
                        } catch {
                            logger.warning("writing kube-public/cluster-info: \(error)")
                        }
                        logger.info("API server listening on \(url); admin kubeconfig \(dir.adminKubeconfigPath)")
                        ready.signal(APIServerEndpoint(url: url, port: port, adminKubeconfigPath: dir.adminKubeconfigPath,
                                                       caCertificatePath: dir.caCertificatePath, adminToken: token))
                        return handler.handle
                    })
            }
            tasks.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: config.bookmarkInterval)
                    store.hub.bookmark()
                }
            }
            tasks.addTask {
                var trim = HeapTrimAfterBursts()
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(500))
                    do { try store.checkpoint() } catch { logger.warning("WAL checkpoint: \(error)") }
                    trim.tick(activity: store.currentRV)
                }
            }
            if config.runControllers {
                tasks.addTask {
                    try await ControllerManager(registry: registry, settings: config.controllers, logger: logger, ca: ca).run()
                }
            }
            tasks.addTask {
                // Graceful shutdown (SIGTERM through the service group) ends every task.
                try await gracefulShutdown()
                throw ShutdownRequested()
            }
        }
    }

    func sans() -> [String] {
        var out = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
                   "127.0.0.1", "::1", cidr.first]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty, !out.contains(host) { out.append(host) }
        let b = configuration.bindAddress
        if !b.isEmpty, b != "0.0.0.0", b != "::", !out.contains(b) { out.append(b) }
        for s in configuration.extraSANs where !out.contains(s) { out.append(s) }
        return out
    }

    /// The address published in the `kubernetes` Service's endpoints.
    func endpointAddress() -> String? {
        let b = configuration.bindAddress
        if IPv4.parse(b) != nil, b != "0.0.0.0" { return b }
        return configuration.extraSANs.first { IPv4.parse($0) != nil }
    }
}

private struct ShutdownRequested: Error {}

/// A one-shot value many tasks can wait for.
final class ReadySignal<Value: Sendable>: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Value, Error>])
        case done(Result<Value, Error>)
    }

    private let state = Mutex<State>(.waiting([]))

    func signal(_ v: Value) { complete(.success(v)) }
    func fail(_ e: Error) { complete(.failure(e)) }

    private func complete(_ r: Result<Value, Error>) {
        let waiters: [CheckedContinuation<Value, Error>] = state.withLock { s in
            guard case .waiting(let w) = s else { return [] }
            s = .done(r)
            return w
        }
        for w in waiters { w.resume(with: r) }
    }

    func wait() async throws -> Value {
        try await withCheckedThrowingContinuation { c in
            let done: Result<Value, Error>? = state.withLock { s in
                switch s {
                case .waiting(var w):
                    w.append(c)
                    s = .waiting(w)
                    return nil
                case .done(let r): return r
                }
            }
            if let done { c.resume(with: done) }
        }
    }
}
