import CRIAPI
import Foundation
import GRPCCore
import Images
import Runtime

extension CRIRuntimeHandler {
    func createContainer(request: Runtime_V1_CreateContainerRequest, context: ServerContext) async throws -> Runtime_V1_CreateContainerResponse {
        let sandboxID = try resolveSandbox(request.podSandboxID)
        let config = try ContainerConversions.containerConfig(request.config)
        var r = Runtime_V1_CreateContainerResponse()
        r.containerID = try await CRIErrors.mapping("CreateContainer \(config.name) in sandbox \(sandboxID)") {
            try runtime.createContainer(sandboxID: sandboxID, config)
        }
        publishEvent(.containerCreatedEvent, containerID: r.containerID, sandboxID: sandboxID)
        return r
    }

    func startContainer(request: Runtime_V1_StartContainerRequest, context: ServerContext) async throws -> Runtime_V1_StartContainerResponse {
        let id = try resolveContainer(request.containerID)
        try await CRIErrors.mapping("StartContainer \(id)") { try runtime.startContainer(id) }
        if let record = runtime.listContainers().first(where: { $0.id == id }) {
            publishEvent(.containerStartedEvent, containerID: id, sandboxID: record.sandboxID)
        }
        return Runtime_V1_StartContainerResponse()
    }

    func stopContainer(request: Runtime_V1_StopContainerRequest, context: ServerContext) async throws -> Runtime_V1_StopContainerResponse {
        // Idempotent: a removed container is stopped.
        guard let id = resolveContainerIfPresent(request.containerID) else { return Runtime_V1_StopContainerResponse() }
        let wasRunning = (try? runtime.containerStatus(id).state) == .running
        try await CRIErrors.mapping("StopContainer \(id)") { try await runtime.stopContainer(id, timeoutSeconds: max(0, request.timeout)) }
        if wasRunning, let record = runtime.listContainers().first(where: { $0.id == id }) {
            publishEvent(.containerStoppedEvent, containerID: id, sandboxID: record.sandboxID)
        }
        return Runtime_V1_StopContainerResponse()
    }

    func removeContainer(request: Runtime_V1_RemoveContainerRequest, context: ServerContext) async throws -> Runtime_V1_RemoveContainerResponse {
        guard let id = resolveContainerIfPresent(request.containerID),
              let record = runtime.listContainers().first(where: { $0.id == id }) else { return Runtime_V1_RemoveContainerResponse() }
        try await CRIErrors.mapping("RemoveContainer \(id)") { try runtime.removeContainer(id) }
        publishEvent(.containerDeletedEvent, containerID: id, sandboxID: record.sandboxID)
        return Runtime_V1_RemoveContainerResponse()
    }

    func listContainers(request: Runtime_V1_ListContainersRequest, context: ServerContext) async throws -> Runtime_V1_ListContainersResponse {
        var r = Runtime_V1_ListContainersResponse()
        r.containers = filteredContainers(request.hasFilter ? request.filter : nil)
        return r
    }

    func streamContainers(request: Runtime_V1_StreamContainersRequest, response: RPCWriter<Runtime_V1_StreamContainersResponse>,
                          context: ServerContext) async throws {
        for chunk in Self.chunks(filteredContainers(request.hasFilter ? request.filter : nil), size: 500) {
            var r = Runtime_V1_StreamContainersResponse()
            r.containers = chunk
            try await response.write(r)
        }
    }

    func filteredContainers(_ filter: Runtime_V1_ContainerFilter?) -> [Runtime_V1_Container] {
        let refs = ImageRefs(images)
        return runtime.listContainers().compactMap { record in
            let state = (try? runtime.containerStatus(record.id).state) ?? .unknown
            if let filter, !ContainerConversions.matches(record, state: state, filter) { return nil }
            return ContainerConversions.container(record, state: state, imageRef: refs.ref(record.imageID))
        }
    }

    func containerStatus(request: Runtime_V1_ContainerStatusRequest, context: ServerContext) async throws -> Runtime_V1_ContainerStatusResponse {
        let id = try resolveContainer(request.containerID)
        let info = try await CRIErrors.mapping("ContainerStatus") { try runtime.containerStatus(id) }
        var r = Runtime_V1_ContainerStatusResponse()
        let spec = runtime.spawnSpec(ofContainer: id)
        r.status = ContainerConversions.status(info, imageRef: ImageRefs(images).ref(info.record.imageID), identity: spec)
        if request.verbose {
            r.info["info"] = Self.json([
                "pid": Int(info.pid), "sandboxID": info.record.sandboxID, "cgroupPath": info.record.cgroupPath,
                "writableLayer": info.record.upperDir, "args": spec?.argv ?? [], "notEnforced": info.record.notEnforced,
            ])
        }
        return r
    }

    func updateContainerResources(request: Runtime_V1_UpdateContainerResourcesRequest,
                                  context: ServerContext) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
        let id = try resolveContainer(request.containerID)
        if request.hasLinux {
            let resources = ContainerConversions.resources(request.linux)
            _ = try await CRIErrors.mapping("UpdateContainerResources \(id)") { try runtime.updateContainerResources(id, resources) }
        }
        return Runtime_V1_UpdateContainerResourcesResponse()
    }

    func reopenContainerLog(request: Runtime_V1_ReopenContainerLogRequest, context: ServerContext) async throws -> Runtime_V1_ReopenContainerLogResponse {
        let id = try resolveContainer(request.containerID)
        let state = try await CRIErrors.mapping("ReopenContainerLog") { try runtime.containerStatus(id).state }
        guard state == .running else {
            throw RPCError(code: .failedPrecondition, message: "container \(id) is not running (\(state.rawValue)): no log to reopen")
        }
        try await CRIErrors.mapping("ReopenContainerLog \(id)") { try runtime.reopenContainerLog(id) }
        return Runtime_V1_ReopenContainerLogResponse()
    }

    // MARK: events

    func getContainerEvents(request: Runtime_V1_GetEventsRequest, response: RPCWriter<Runtime_V1_ContainerEventResponse>,
                            context: ServerContext) async throws {
        let (id, stream) = events.subscribe()
        defer { events.unsubscribe(id) }
        for await event in stream { try await response.write(event) }
    }

    /// A lifecycle event with the sandbox's and its containers' status as they are now.
    func publishEvent(_ type: Runtime_V1_ContainerEventType, containerID: String, sandboxID: String) {
        var event = Runtime_V1_ContainerEventResponse()
        event.containerID = containerID
        event.containerEventType = type
        event.createdAt = Int64(Date().timeIntervalSince1970 * 1e9)
        if let sandbox = try? runtime.podSandboxStatus(sandboxID) {
            event.podSandboxStatus = SandboxConversions.status(sandbox)
        }
        let refs = ImageRefs(images)
        event.containersStatuses = runtime.listContainers(sandboxID: sandboxID).compactMap { record in
            guard let info = try? runtime.containerStatus(record.id) else { return nil }
            return ContainerConversions.status(info, imageRef: refs.ref(record.imageID), identity: nil)
        }
        events.publish(event)
    }
}

/// Image ids to the digested reference CRI calls `image_ref` (a repo digest when the image has
/// one, else its id), read once per call from the store's index.
struct ImageRefs {
    let byID: [String: String]

    init(_ store: ImageStore) {
        var map: [String: String] = [:]
        for record in (try? store.list()) ?? [] { map[record.id.description] = record.imageRef }
        byID = map
    }

    func ref(_ id: String) -> String { byID[id] ?? id }
}
