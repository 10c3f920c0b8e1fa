import CRIAPI
import Foundation
import GRPCCore
import Images
import LinuxPrimitives
import Logging
import Runtime
import Streaming
import Synchronization

/// CRI RuntimeService over the runtime: version, status and configuration, sandboxes
/// (this file), containers, streaming and stats (the extensions).
struct CRIRuntimeHandler: Runtime_V1_RuntimeService.SimpleServiceProtocol {
    let runtime: RuntimeService
    let images: ImageStore
    let streaming: StreamingServer
    let stats: CRIStats
    let events: ContainerEventHub
    let settings: CRISettings
    let podCIDR: LockedValue<String>
    let logger: Logger

    // MARK: runtime

    func version(request: Runtime_V1_VersionRequest, context: ServerContext) async throws -> Runtime_V1_VersionResponse {
        var r = Runtime_V1_VersionResponse()
        r.version = "0.1.0"
        r.runtimeName = settings.runtimeName
        r.runtimeVersion = settings.runtimeVersion
        r.runtimeApiVersion = "v1"
        return r
    }

    func status(request: Runtime_V1_StatusRequest, context: ServerContext) async throws -> Runtime_V1_StatusResponse {
        var r = Runtime_V1_StatusResponse()
        var ready = Runtime_V1_RuntimeCondition()
        ready.type = "RuntimeReady"
        ready.status = true
        var network = Runtime_V1_RuntimeCondition()
        network.type = "NetworkReady"
        if let problem = await runtime.networkReadiness() {
            network.status = false
            network.reason = "NetworkPluginNotReady"
            network.message = "Network plugin returns error: " + problem
        } else {
            network.status = true
        }
        r.status.conditions = [ready, network]
        var handler = Runtime_V1_RuntimeHandler()
        handler.name = ""
        handler.features.recursiveReadOnlyMounts = false
        handler.features.userNamespaces = false
        r.runtimeHandlers = [handler]
        r.features.supplementalGroupsPolicy = false
        if request.verbose {
            r.info["config"] = Self.json([
                "rootDir": runtime.config.rootDir, "runDir": runtime.config.runDir, "cgroupRoot": runtime.config.cgroupRoot,
                "streamingServer": streaming.baseURL, "podCIDR": podCIDR.withLock { $0 },
            ])
        }
        return r
    }

    func runtimeConfig(request: Runtime_V1_RuntimeConfigRequest, context: ServerContext) async throws -> Runtime_V1_RuntimeConfigResponse {
        var r = Runtime_V1_RuntimeConfigResponse()
        r.linux.cgroupDriver = .cgroupfs
        return r
    }

    func updateRuntimeConfig(request: Runtime_V1_UpdateRuntimeConfigRequest, context: ServerContext) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
        let cidr = request.runtimeConfig.networkConfig.podCidr
        if !cidr.isEmpty {
            podCIDR.withLock { $0 = cidr }
            logger.info("pod CIDR from the runtime config: \(cidr)")
        }
        return Runtime_V1_UpdateRuntimeConfigResponse()
    }

    func checkpointContainer(request: Runtime_V1_CheckpointContainerRequest, context: ServerContext) async throws -> Runtime_V1_CheckpointContainerResponse {
        throw RPCError(code: .unimplemented, message: "CheckpointContainer is not supported by swiftlet")
    }

    // MARK: sandboxes

    func runPodSandbox(request: Runtime_V1_RunPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_RunPodSandboxResponse {
        guard request.runtimeHandler.isEmpty else {
            throw CRIErrors.invalid("runtime handler \"\(request.runtimeHandler)\" is not known (only the default handler \"\")")
        }
        let config = try SandboxConversions.sandboxConfig(request.config)
        var r = Runtime_V1_RunPodSandboxResponse()
        r.podSandboxID = try await CRIErrors.mapping("RunPodSandbox \(config.namespace)/\(config.name)") {
            try await runtime.runPodSandbox(config)
        }
        return r
    }

    func stopPodSandbox(request: Runtime_V1_StopPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_StopPodSandboxResponse {
        // Idempotent: an unknown sandbox is already stopped.
        if let id = resolveSandboxIfPresent(request.podSandboxID) {
            for c in runtime.listContainers(sandboxID: id) where (try? runtime.containerStatus(c.id).state) == .running {
                publishEvent(.containerStoppedEvent, containerID: c.id, sandboxID: id)
            }
            try await CRIErrors.mapping("StopPodSandbox \(id)") { try await runtime.stopPodSandbox(id) }
        }
        return Runtime_V1_StopPodSandboxResponse()
    }

    func removePodSandbox(request: Runtime_V1_RemovePodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_RemovePodSandboxResponse {
        if let id = resolveSandboxIfPresent(request.podSandboxID) {
            let containers = runtime.listContainers(sandboxID: id).map(\.id)
            try await CRIErrors.mapping("RemovePodSandbox \(id)") { try await runtime.removePodSandbox(id) }
            for c in containers { publishEvent(.containerDeletedEvent, containerID: c, sandboxID: id) }
        }
        return Runtime_V1_RemovePodSandboxResponse()
    }

    func podSandboxStatus(request: Runtime_V1_PodSandboxStatusRequest, context: ServerContext) async throws -> Runtime_V1_PodSandboxStatusResponse {
        let id = try resolveSandbox(request.podSandboxID)
        let record = try await CRIErrors.mapping("PodSandboxStatus") { try runtime.podSandboxStatus(id) }
        var r = Runtime_V1_PodSandboxStatusResponse()
        r.status = SandboxConversions.status(record)
        r.timestamp = Int64(Date().timeIntervalSince1970 * 1e9)
        if request.verbose {
            r.info["info"] = Self.json([
                "pid": Int(record.shimPID), "sandboxDirectory": runtime.sandboxDirectory(id),
                "netns": runtime.networkNamespacePath(id) ?? "", "cgroupPath": record.cgroupPath,
                "notEnforced": record.notEnforced, "runtimeHandler": "",
            ])
        }
        return r
    }

    func listPodSandbox(request: Runtime_V1_ListPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxResponse {
        var r = Runtime_V1_ListPodSandboxResponse()
        r.items = filteredSandboxes(request.hasFilter ? request.filter : nil)
        return r
    }

    func streamPodSandboxes(request: Runtime_V1_StreamPodSandboxesRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxesResponse>,
                            context: ServerContext) async throws {
        let items = filteredSandboxes(request.hasFilter ? request.filter : nil)
        for chunk in Self.chunks(items, size: 500) {
            var r = Runtime_V1_StreamPodSandboxesResponse()
            r.podSandboxes = chunk
            try await response.write(r)
        }
    }

    func filteredSandboxes(_ filter: Runtime_V1_PodSandboxFilter?) -> [Runtime_V1_PodSandbox] {
        runtime.listPodSandboxes().filter { r in filter.map { SandboxConversions.matches(r, $0) } ?? true }
            .map(SandboxConversions.podSandbox)
    }

    func updatePodSandboxResources(request: Runtime_V1_UpdatePodSandboxResourcesRequest,
                                   context: ServerContext) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
        let id = try resolveSandbox(request.podSandboxID)
        if request.hasResources {
            let resources = ContainerConversions.resources(request.resources)
            _ = try await CRIErrors.mapping("UpdatePodSandboxResources \(id)") { try runtime.updatePodResources(id, resources.limits) }
        }
        return Runtime_V1_UpdatePodSandboxResourcesResponse()
    }

    // MARK: ids

    /// An exact sandbox id or a unique prefix of one (crictl shortens ids); NotFound otherwise.
    func resolveSandbox(_ id: String) throws -> String {
        guard let found = resolveSandboxIfPresent(id) else { throw CRIErrors.notFound("pod sandbox \"\(id)\" not found") }
        return found
    }

    func resolveSandboxIfPresent(_ id: String) -> String? {
        guard !id.isEmpty else { return nil }
        let ids = runtime.listPodSandboxes().map(\.id)
        if ids.contains(id) { return id }
        let matches = ids.filter { $0.hasPrefix(id) }
        return matches.count == 1 ? matches[0] : nil
    }

    func resolveContainer(_ id: String) throws -> String {
        guard let found = resolveContainerIfPresent(id) else { throw CRIErrors.notFound("container \"\(id)\" not found") }
        return found
    }

    func resolveContainerIfPresent(_ id: String) -> String? {
        guard !id.isEmpty else { return nil }
        let ids = runtime.listContainers().map(\.id)
        if ids.contains(id) { return id }
        let matches = ids.filter { $0.hasPrefix(id) }
        return matches.count == 1 ? matches[0] : nil
    }

    // MARK: helpers

    static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func chunks<T>(_ items: [T], size: Int) -> [[T]] {
        guard !items.isEmpty else { return [[]] }
        return stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }
}

extension ContainerResources {
    /// Pod-level limits in the runtime's cgroup terms.
    var limits: LinuxPrimitives.CgroupLimits {
        LinuxPrimitives.CgroupLimits(cpuWeight: cpuWeight, cpuMax: cpuQuota.map { ($0, cpuPeriod ?? 100_000) }, memoryMax: memoryLimit,
                                     pidsMax: pidsLimit)
    }
}

/// A value shared by copies of a handler struct.
final class LockedValue<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ initial: Value) { value = Mutex(initial) }

    func withLock<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}
