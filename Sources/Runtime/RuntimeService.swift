import Foundation
import Logging
import LinuxPrimitives
import ShimProtocol
import Synchronization

/// What the runtime tells its user (the kubelet's pod lifecycle event generator) as it happens.
public enum RuntimeEvent: Sendable, Equatable {
    case containerExited(sandboxID: String, containerID: String)
    case sandboxLost(sandboxID: String)
}

public struct RuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound, invalid, failed
        /// The object exists but is in the wrong state for the call (exec in an exited container).
        case failedPrecondition
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func notFound(_ what: String, _ id: String) -> RuntimeError { RuntimeError(.notFound, "\(what) \"\(id)\" not found") }
}

/// Pod sandboxes and containers behind a CRI-shaped API. State lives on disk under the run
/// directory (written atomically) and in each pod's shim, so a new agent process re-adopts
/// everything with `recover()`; memory here is only a cache of those files.
public final class RuntimeService: Sendable {
    public let config: RuntimeConfig
    public let hierarchy: CgroupHierarchy
    let cgroups: CgroupManager
    let images: ImageProvider
    let network: PodNetwork
    let logger: Logger
    let sandboxes = Mutex<[String: SandboxRecord]>([:])
    let containers = Mutex<[String: ContainerRecord]>([:])
    let seccompCache = Mutex<[UInt64: [UInt8]]>([:])
    let notEnforcedReported = Mutex<Set<String>>([])
    /// Sandboxes whose network this process has torn down since it last set it up: their
    /// removal skips a second CNI DEL chain (after a restart it runs again; DEL is idempotent).
    let networkDetached = Mutex<Set<String>>([])
    private let eventContinuation: AsyncStream<RuntimeEvent>.Continuation
    /// Container exits and lost sandboxes, for one consumer (the kubelet's event loop).
    public let events: AsyncStream<RuntimeEvent>
    let monitor: ShimEventMonitor

    public init(config: RuntimeConfig, images: ImageProvider, network: PodNetwork = LoopbackOnlyNetwork(),
                hierarchy: CgroupHierarchy? = nil, logger: Logger = Logger(label: "swiftlet.runtime")) throws {
        self.config = config
        self.hierarchy = try hierarchy ?? CgroupHierarchy.detect()
        self.cgroups = CgroupManager(hierarchy: self.hierarchy)
        self.images = images
        self.network = network
        self.logger = logger
        let (stream, continuation) = AsyncStream<RuntimeEvent>.makeStream(bufferingPolicy: .unbounded)
        self.events = stream
        self.eventContinuation = continuation
        self.monitor = try ShimEventMonitor { event in
            switch event {
            case .exited(let sandboxID, let containerID):
                continuation.yield(.containerExited(sandboxID: sandboxID, containerID: containerID))
            case .shimGone(let sandboxID):
                continuation.yield(.sandboxLost(sandboxID: sandboxID))
            }
        }
        for dir in [config.sandboxesDir, config.containersDataDir, config.podsDataDir] {
            try FileSystem.createDirectory(dir, mode: 0o711)
        }
    }

    func sandboxDir(_ id: String) -> String { config.sandboxesDir + "/" + id }

    /// The shim's own cgroup, beside (not inside) the pods: `<cgroup-root>/shims/<sandbox id>`.
    func shimCgroup(_ id: String) -> String { config.cgroupRoot + "/shims/" + id }

    func sandbox(_ id: String) throws -> SandboxRecord {
        guard let record = sandboxes.withLock({ $0[id] }) else { throw RuntimeError.notFound("sandbox", id) }
        return record
    }

    // MARK: sandboxes

    /// Creates the pod's sandbox: cgroup, shim with pinned namespaces, network, /etc files.
    /// On any failure everything made so far is removed again.
    public func runPodSandbox(_ sandboxConfig: SandboxConfig) async throws -> String {
        let id = Identifiers.random()
        let dir = sandboxDir(id)
        let cgroupPath = podCgroupPath(sandboxConfig)
        var record = SandboxRecord(id: id, config: sandboxConfig, createdAt: WallClock.nanos(), state: .notReady, shimPID: 0,
                                   network: nil, cgroupDir: hierarchy.directory(cgroupPath), cgroupPath: cgroupPath, notEnforced: [])
        do {
            try FileSystem.createDirectory(dir + "/containers", mode: 0o700)
            try cgroups.create(cgroupPath)
            // The shim lives outside the pod's cgroup: a pod hitting its memory limit must have
            // its containers OOM-killed, never its supervisor (which would lose their exits).
            try cgroups.create(shimCgroup(id))
            var shimConfig = ShimConfig()
            shimConfig.sandboxID = id
            shimConfig.hostname = sandboxConfig.hostname
            shimConfig.newNetwork = sandboxConfig.network != .node
            shimConfig.newIPC = sandboxConfig.ipc != .node
            shimConfig.newUTS = sandboxConfig.network != .node
            shimConfig.sharedPID = sandboxConfig.pid == .pod
            shimConfig.cgroupDir = hierarchy.directory(shimCgroup(id))
            shimConfig.shmSize = sandboxConfig.ipc == .node ? 0 : 64 * 1024 * 1024
            shimConfig.sysctls = sandboxConfig.sysctls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            try FileSystem.writeAtomically(ShimProtocol.Paths.config(dir), shimConfig.records().encoded())
            // On a thread of its own: launch waits for the shim to report its namespaces pinned.
            let shimPath = config.shimPath, shimCgroupDir = shimConfig.cgroupDir
            record.shimPID = try await DetachedThread.run { try ShimClient.launch(shimPath: shimPath, sandboxDir: dir, cgroupDir: shimCgroupDir) }
            try StateFiles.save(record, to: dir + "/sandbox.json")
            sandboxes.withLock { $0[id] = record }
            try monitor.watch(sandboxID: id, sandboxDir: dir)
            if sandboxConfig.network != .node {
                record.network = try await network.setUp(networkRequest(record))
            }
            try writeEtcFiles(record)
            record.state = .ready
            try StateFiles.save(record, to: dir + "/sandbox.json")
            sandboxes.withLock { $0[id] = record }
            return id
        } catch {
            logger.warning("sandbox for pod \(sandboxConfig.namespace)/\(sandboxConfig.name) failed: \(error)")
            await destroySandbox(record, reason: "failed creation")
            throw error
        }
    }

    /// Stops every container of the sandbox (they are killed: the kubelet stops them
    /// gracefully first) and detaches its network. Idempotent.
    public func stopPodSandbox(_ id: String) async throws {
        guard var record = sandboxes.withLock({ $0[id] }) else { return }
        for container in containers.withLock({ $0.values.filter { $0.sandboxID == id } }) {
            try? await stopContainer(container.id, timeoutSeconds: 0)
        }
        if record.config.network != .node && record.network != nil {
            try await network.tearDown(networkRequest(record))
            record.network = nil
            networkDetached.withLock { _ = $0.insert(id) }
        }
        record.state = .notReady
        try? StateFiles.save(record, to: sandboxDir(id) + "/sandbox.json")
        sandboxes.withLock { $0[id] = record }
    }

    /// Removes the sandbox and all its containers: shim, mounts, cgroups, directories.
    /// Idempotent; an unknown id is not an error (CRI semantics).
    public func removePodSandbox(_ id: String) async throws {
        guard let record = sandboxes.withLock({ $0[id] }) else { return }
        try await stopPodSandbox(id)
        for container in containers.withLock({ $0.values.filter { $0.sandboxID == id } }) {
            try? removeContainer(container.id)
        }
        await destroySandbox(record, reason: "removal")
    }

    /// Tears down whatever exists of a sandbox; every step tolerates "already gone". The
    /// network is torn down unless a stop in this process already did (and nothing set it up
    /// again since).
    func destroySandbox(_ record: SandboxRecord, reason: String) async {
        let dir = sandboxDir(record.id)
        monitor.unwatch(sandboxID: record.id)
        let detached = networkDetached.withLock { $0.remove(record.id) != nil }
        if !detached, record.config.network != .node,
           FileSystem.exists(ShimProtocol.Paths.namespace(dir, .net)) || record.network != nil {
            do { try await network.tearDown(networkRequest(record)) } catch {
                logger.warning("network teardown of sandbox \(record.id) (\(reason)): \(error)")
            }
        }
        stopShim(record)
        for point in Mounts.mountPoints(under: dir) { try? Mounts.unmount(point) }
        do { try cgroups.remove(record.cgroupPath) } catch { logger.warning("removing cgroup \(record.cgroupPath): \(error)") }
        do { try cgroups.remove(shimCgroup(record.id)) } catch { logger.warning("removing cgroup \(shimCgroup(record.id)): \(error)") }
        for container in containers.withLock({ $0.values.filter { $0.sandboxID == record.id } }) {
            try? removeContainerFiles(container)
        }
        containers.withLock { $0 = $0.filter { $0.value.sandboxID != record.id } }
        sandboxes.withLock { _ = $0.removeValue(forKey: record.id) }
        do { try FileSystem.removeTree(dir) } catch { logger.warning("removing \(dir): \(error)") }
    }

    /// Asks the shim to exit and waits for it (it kills what is left and releases its mounts).
    func stopShim(_ record: SandboxRecord) {
        let dir = sandboxDir(record.id)
        let client = ShimClient(sandboxDir: dir)
        _ = try? client.call(.shutdown)
        guard record.shimPID > 0 else { return }
        var waited = 0
        while ProcessTable.isShim(pid: record.shimPID, sandboxDir: dir) && waited < 5000 {
            usleep(1000)
            waited += 1
        }
        if ProcessTable.isShim(pid: record.shimPID, sandboxDir: dir) { kill(record.shimPID, SIGKILL) }
        ShimClient.reap(record.shimPID)
    }

    public func podSandboxStatus(_ id: String) throws -> SandboxRecord { try sandbox(id) }

    public func listPodSandboxes() -> [SandboxRecord] {
        sandboxes.withLock { Array($0.values) }.sorted { $0.createdAt < $1.createdAt }
    }

    /// The sandboxes of one pod, oldest first: a pod worker's view on every sync, so it filters
    /// before copying and sorting (100 pods, 100 syncs: no 10,000 record copies).
    public func listPodSandboxes(uid: String) -> [SandboxRecord] {
        sandboxes.withLock { $0.values.filter { $0.config.uid == uid } }.sorted { $0.createdAt < $1.createdAt }
    }

    /// The pod's cgroup (relative to the hierarchy root), below the runtime's cgroup root.
    func podCgroupPath(_ sandboxConfig: SandboxConfig) -> String {
        let parent = sandboxConfig.cgroupParent.isEmpty ? "kubepods/besteffort/pod\(sandboxConfig.uid)" : sandboxConfig.cgroupParent
        return config.cgroupRoot + "/" + parent.split(separator: "/").joined(separator: "/")
    }

    /// Applies pod-level limits (kubelet computes them from the pod's QoS class).
    public func updatePodResources(_ id: String, _ limits: CgroupLimits) throws -> [String] {
        let record = try sandbox(id)
        let notEnforced = try cgroups.apply(limits, to: record.cgroupPath)
        sandboxes.withLock { $0[id]?.notEnforced = notEnforced }
        return notEnforced
    }

    func networkRequest(_ record: SandboxRecord) -> PodNetworkRequest {
        PodNetworkRequest(sandboxID: record.id, namespace: record.config.namespace, name: record.config.name, uid: record.config.uid,
                          netnsPath: ShimProtocol.Paths.namespace(sandboxDir(record.id), .net), portMappings: record.config.portMappings)
    }
}

/// Process table facts the runtime needs (identity checks before signalling a pid).
enum ProcessTable {
    /// Whether `pid` is still the shim of `sandboxDir` (guards against pid reuse).
    static func isShim(pid: Int32, sandboxDir: String) -> Bool {
        guard pid > 0, let cmdline = try? FileSystem.readSmall("/proc/\(pid)/cmdline") else { return false }
        if let stat = try? FileSystem.readSmall("/proc/\(pid)/stat"), stat.contains(") Z ") { return false }
        return cmdline.contains("swiftlet-shim") && cmdline.contains(sandboxDir)
    }
}
