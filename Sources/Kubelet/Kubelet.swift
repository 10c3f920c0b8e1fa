import Foundation
import Hummingbird
import KubeAPI
import LinuxPrimitives
import Logging
import Runtime
import ServiceLifecycle

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
    /// Set once the first scan of every source has been applied (then orphans are known).
    private let sourcesReady = LockedDictionary<String, Bool>()

    public init(config: KubeletConfig, runtime: RuntimeService, hostIP: String = "", logger: Logger = Logger(label: "swiftlet.kubelet")) {
        self.config = config
        self.runtime = runtime
        self.logger = logger
        self.syncer = PodSyncer(runtime: runtime, volumes: VolumeManager(rootDir: config.rootDir), config: config,
                                backoff: RestartBackoff(), hostIP: hostIP, logger: logger)
    }

    /// Routes of the kubelet port(s), for whoever serves HTTP.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        KubeletEndpoints(statuses: statuses, runtime: runtime).addRoutes(to: router)
    }

    /// All pods with their current status (the `/pods` list).
    public func podsWithStatus() -> [Pod] { statuses.all() }

    /// Re-adopts what the runtime has, then runs sources, workers and the event loop.
    /// `extraRoutes` mounts other modules' endpoints (stats) on the same kubelet port.
    public func run(extraRoutes: @Sendable (Router<BasicRequestContext>) -> Void = { _ in }) async throws {
        let adopted = await runtime.recover()
        logger.info("re-adopted \(adopted.count) pod sandbox(es)")
        try await withThrowingDiscardingTaskGroup { group in
            if config.readOnlyPort > 0 {
                let router = Router()
                addRoutes(to: router)
                extraRoutes(router)
                let app = Application(router: router, configuration: .init(address: .hostname(config.readOnlyAddress, port: config.readOnlyPort)),
                                      logger: Logger(label: "swiftlet.http"))
                group.addTask { try await app.run() }
            }
            group.addTask { await self.watchRuntimeEvents() }
            if !config.podManifestPath.isEmpty {
                group.addTask { await self.runStaticSource() }
            } else {
                sourcesReady.set("file", true)
            }
            group.addTask { await self.collectOrphans() }
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
            for await pods in changes {
                await workers.reconcile(pods, source: "file")
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
        while !Task.isCancelled && sourcesReady.keys().isEmpty {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        let known = await workers.knownUIDs()
        for sandbox in runtime.listPodSandboxes() where !known.contains(sandbox.config.uid) {
            let meta = ObjectMeta(name: sandbox.config.name, namespace: sandbox.config.namespace, uid: sandbox.config.uid)
            logger.info("pod \(sandbox.config.namespace)/\(sandbox.config.name) is no longer wanted; terminating it")
            await workers.adoptOrphan(sandbox.config.uid, pod: Pod(metadata: meta, spec: PodSpec(containers: [])))
        }
    }

    func runWorker(_ uid: String) async {
        var state = PodWorkerState()
        while let entry = await workers.current(uid) {
            if entry.deleting {
                logger.info("terminating pod \(entry.pod.metadata.namespace ?? "")/\(entry.pod.metadata.name ?? "") (grace \(entry.gracePeriod)s)")
                await syncer.terminate(uid: uid, pod: entry.pod, gracePeriodSeconds: entry.gracePeriod)
                statuses.remove(uid)
                await workers.finished(uid)
                return
            }
            let next = await syncer.sync(entry.pod, state: &state)
            statuses.set(entry.pod, status: state.status)
            if Task.isCancelled { return }
            await entry.wake.wait(seconds: next)
        }
    }
}
