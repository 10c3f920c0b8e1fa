import Foundation
import AgentSupport
import AsyncHTTPClient
import Hummingbird
import HummingbirdTLS
import KubeClient
import KubeAPI
import LinuxPrimitives
import Logging
import Runtime
import Streaming
import ServiceLifecycle
import Synchronization

/// The node agent's kubelet: pod sources feed pod workers, which drive the runtime; runtime
/// events wake the workers of the pods they concern; statuses are kept for the HTTP endpoints
/// (and, in API mode, reported to the API server). Runs until its task is cancelled.
public final class Kubelet: Sendable {
    public let config: KubeletConfig
    public let runtime: RuntimeService
    let logger: Logger
    let workers = PodWorkers()
    let statuses = PodStatusStore()
    let syncer: PodSyncer
    let probes: ProbeManager
    let http: HTTPClient
    let api: KubeletAPIConfig?
    let services = ServiceDirectory()
    let statusManager: StatusManager?
    /// API mode: the mirror pods of static pods.
    let mirrorPods: MirrorPodManager?
    /// Set once the first scan of every source has been applied (then orphans are known).
    let sourcesReady = LockedDictionary<String, Bool>()
    let shuttingDown = LockedDictionary<String, Bool>()
    let heartbeat = LockedDictionary<String, Date>()
    /// Pod syncs done so far: the housekeeping tick trims the heap after a burst of them.
    let syncsDone = Atomic<Int64>(0)

    public init(config: KubeletConfig, runtime: RuntimeService, hostIP: String = "", api: KubeletAPIConfig? = nil,
                logger: Logger = Logger(label: "swiftlet.kubelet")) {
        self.api = api
        self.config = config
        self.runtime = runtime
        self.logger = logger
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        self.http = http
        let workers = self.workers
        let probes = ProbeManager(runner: ProbeRunner(runtime: runtime, http: http), logger: logger) { uid in await workers.wake(uid) }
        self.probes = probes
        var volumes = VolumeManager(rootDir: config.rootDir)
        var syncer = PodSyncer(runtime: runtime, volumes: volumes, config: config, backoff: RestartBackoff(), hostIP: hostIP,
                               logger: logger, probes: probes)
        if let api {
            let env = APIEnvSource(client: api.client)
            volumes.sourcedVolumes = APIVolumeWriter(client: api.client, env: env)
            syncer = PodSyncer(runtime: runtime, volumes: volumes, config: config, backoff: RestartBackoff(), hostIP: hostIP,
                               logger: logger, probes: probes)
            syncer.envSource = env
            let services = self.services
            syncer.serviceEnv = { namespace in services.environment(namespace: namespace) }
            let statuses = self.statuses
            let holder = StatusManagerHolder()
            let mirrors = MirrorPodManager(client: api.client, nodeName: config.nodeName, logger: logger) { staticUID in
                // A new (or newly found) mirror: the static pod's current status goes to it.
                if let pod = statuses.pod(uid: staticUID) { holder.manager?.enqueue(pod) }
            }
            let statusManager = StatusManager(client: api.client, logger: logger, mirrors: mirrors)
            holder.manager = statusManager
            self.statusManager = statusManager
            mirrorPods = mirrors
        } else {
            statusManager = nil
            mirrorPods = nil
        }
        self.syncer = syncer
    }

    /// Routes of the kubelet port(s), for whoever serves HTTP.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        KubeletEndpoints(statuses: statuses, runtime: runtime).addRoutes(to: router)
    }

    /// All pods with their current status (the `/pods` list).
    public func podsWithStatus() -> [Pod] { statuses.all() }

    /// Re-adopts what the runtime has, then runs sources, workers and the event loop.
    /// `extraRoutes` mounts other modules' endpoints (stats) on the same kubelet port.
    /// `onReady` is called once, after re-adoption and the first sync of every pod the sources
    /// want (systemd's READY=1 point).
    public func run(extraRoutes: @Sendable (Router<BasicRequestContext>) -> Void = { _ in },
                    onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let adopted = await runtime.recover()
        logger.info("re-adopted \(adopted.count) pod sandbox(es)")
        try await withThrowingDiscardingTaskGroup { group in
            if config.readOnlyPort > 0 {
                let router = Router()
                addRoutes(to: router)
                extraRoutes(router)
                let app = Application(router: router, configuration: .init(address: .hostname(config.readOnlyAddress, port: config.readOnlyPort)),
                                      logger: Logger(label: "swiftlet.http"))
                group.addTask { try await GracefulService.run(app, logger: Logger(label: "swiftlet.http")) }
            }
            if let api {
                try startAPIMode(api, group: &group, extraRoutes: extraRoutes)
            }
            group.addTask { await self.watchRuntimeEvents() }
            group.addTask { await self.probes.run() }
            if api == nil { sourcesReady.set("api", true) }
            if !config.podManifestPath.isEmpty {
                group.addTask { await self.runStaticSource() }
            } else {
                await mirrorPods?.setStaticPods([])
                sourcesReady.set("file", true)
            }
            group.addTask {
                await self.collectOrphans()
                await self.waitForFirstSyncs()
                onReady(self.statuses.all().count)
            }
            group.addTask {
                var trim = HeapTrimAfterBursts()
                while !Task.isCancelled {
                    self.heartbeat.set("tick", Date())
                    trim.tick(activity: self.syncsDone.load(ordering: .relaxed))
                    try? await Task.sleep(nanoseconds: 2_000_000_000)
                }
            }
            for await uid in workers.startRequests {
                group.addTask { await self.runWorker(uid) }
            }
        }
    }

    func runStaticSource() async {
        let source = StaticPodSource(directory: config.podManifestPath, nodeName: config.nodeName,
                                     suffixNames: config.suffixStaticPodNames, logger: logger)
        try? FileSystem.createDirectory(config.podManifestPath)
        let (changes, continuation) = AsyncStream.makeStream(of: [Pod].self, bufferingPolicy: .bufferingNewest(1))
        continuation.yield(source.scan())
        let stopped = LockedDictionary<String, Bool>()
        source.watch(onChange: { continuation.yield($0) }, stop: { stopped.get("stop") == true })
        await withTaskCancellationHandler {
            for await pods in changes where shuttingDown.get("node") != true {
                await workers.reconcile(pods, source: "file")
                await mirrorPods?.setStaticPods(pods)
                sourcesReady.set("file", true)
            }
        } onCancel: {
            stopped.set("stop", true)
            continuation.finish()
        }
    }

    /// PLEG: a container exit wakes its pod's worker at once.
    func watchRuntimeEvents() async {
        for await event in runtime.events {
            switch event {
            case .containerExited(let sandboxID, _), .sandboxLost(let sandboxID):
                if let uid = try? runtime.podSandboxStatus(sandboxID).config.uid {
                    await workers.wake(uid)
                } else {
                    await workers.wakeAll()
                }
            }
        }
    }

    /// After the sources have spoken once, pods the runtime runs that nobody wants (their
    /// manifest went away while the agent was down) are terminated.
    func collectOrphans() async {
        while !Task.isCancelled && sourcesReady.keys().count < 2 {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        let known = await workers.knownUIDs()
        for sandbox in runtime.listPodSandboxes() where !known.contains(sandbox.config.uid) {
            let meta = ObjectMeta(name: sandbox.config.name, namespace: sandbox.config.namespace, uid: sandbox.config.uid)
            var spec = PodSpec(containers: [])
            spec.terminationGracePeriodSeconds = sandbox.config.annotations["io.kubernetes.pod.terminationGracePeriod"].flatMap { Int64($0) }
            logger.info("pod \(sandbox.config.namespace)/\(sandbox.config.name) is no longer wanted; terminating it")
            await workers.adoptOrphan(sandbox.config.uid, pod: Pod(metadata: meta, spec: spec))
        }
    }

    /// The API server side: Node + Lease, pods bound here, statuses, services for env vars,
    /// and the authenticated kubelet port.
    func startAPIMode(_ api: KubeletAPIConfig, group: inout ThrowingDiscardingTaskGroup<any Error>,
                      extraRoutes: @Sendable (Router<BasicRequestContext>) -> Void) throws {
        let reporter = NodeStatusReporter(client: api.client, nodeName: config.nodeName, nodeIP: api.nodeIP, podCIDR: api.podCIDR,
                                          kubeletPort: api.port, maxPods: api.maxPods, reserved: api.reserved, logger: logger,
                                          networkReadiness: api.networkReadiness, leaseDurationSeconds: api.nodeLeaseDurationSeconds)
        group.addTask { await reporter.run() }
        if let mirrorPods {
            let source = APIPodSource(client: api.client, nodeName: config.nodeName, workers: workers, mirrors: mirrorPods, logger: logger)
            let ready = sourcesReady
            group.addTask { await source.run { ready.set("api", true) } }
            group.addTask { await mirrorPods.run() }
        }
        if let statusManager {
            statuses.observe { pod in statusManager.enqueue(pod) }
            group.addTask { await statusManager.run() }
        }
        let services = self.services
        let informer = Informer(client: api.client, path: "/api/v1/services", logger: logger)
        group.addTask { await informer.run { services.apply($0) } }
        let router = Router()
        addRoutes(to: router)
        extraRoutes(router)
        // exec, attach and port-forward arrive here as upgrades (WebSocket channel protocols or
        // SPDY) proxied by the API server; everything else goes on to the router.
        let streaming = StreamingServer(runtime: RuntimeStreamingAdapter(runtime: runtime),
                                        resolver: KubeletStreamingResolver(statuses: statuses, runtime: runtime),
                                        logger: Logger(label: "swiftlet.streaming"))
        let app = Application(router: router,
                              server: try .tls(.http1(configuration: .init(additionalChannelHandlers: [streaming.httpHandler()])),
                                               tlsConfiguration: api.tls),
                              configuration: .init(address: .hostname("0.0.0.0", port: api.port)), logger: Logger(label: "swiftlet.kubelet-port"))
        group.addTask { try await GracefulService.run(app, logger: Logger(label: "swiftlet.http")) }
    }

    /// Waits (up to 10 s) until every wanted pod has a status, i.e. was synced once.
    func waitForFirstSyncs() async {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let known = await workers.knownUIDs()
            if known.allSatisfy({ statuses.pod(uid: $0) != nil }) { return }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// One sync in a child task of its own. A task keeps the memory its deepest await chain
    /// needed until it ends, and sync's chain (volumes, runtime, CNI, probes) is deep: run in
    /// the long-lived pod worker it kept ~45 KiB per pod for the pod's lifetime. A child task
    /// gives it back after every sync, for a few microseconds of task creation.
    private static func syncInChildTask(_ syncer: PodSyncer, pod: Pod, state: PodWorkerState) async -> (Double, PodWorkerState) {
        async let synced: (Double, PodWorkerState) = {
            var state = state
            let next = await syncer.sync(pod, state: &state)
            return (next, state)
        }()
        return await synced
    }

    func runWorker(_ uid: String) async {
        var state = PodWorkerState()
        while let entry = await workers.current(uid) {
            if entry.deleting {
                logger.info("terminating pod \(entry.pod.metadata.namespace ?? "")/\(entry.pod.metadata.name ?? "") (grace \(entry.gracePeriod)s)")
                await syncer.terminate(uid: uid, pod: entry.pod, gracePeriodSeconds: entry.gracePeriod)
                if let api, entry.pod.metadata.annotations?["kubernetes.io/config.source"] == nil,
                   entry.pod.metadata.deletionTimestamp != nil {
                    await APIPodSource.confirmDeletion(entry.pod, client: api.client, logger: logger)
                }
                if entry.reason == .nodeShutdown {
                    statuses.set(entry.pod, status: Self.shutdownStatus(statuses.pod(uid: uid)?.status))
                } else {
                    statuses.remove(uid)
                }
                await workers.finished(uid)
                return
            }
            let next: Double
            (next, state) = await Self.syncInChildTask(syncer, pod: entry.pod, state: state)
            syncsDone.add(1, ordering: .relaxed)
            statuses.set(entry.pod, status: state.status)
            if Task.isCancelled { return }
            await entry.wake.wait(seconds: next)
        }
    }
}

/// Lets the mirror pod manager's callback reach the status manager made after it.
private final class StatusManagerHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: StatusManager?
    var manager: StatusManager? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
