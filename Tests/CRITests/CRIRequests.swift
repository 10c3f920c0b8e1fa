import CRIAPI
import Foundation
import GRPCCore

/// Request builders and small flows shared by the CRI tests (what kubelet sends, minus what a
/// test does not need).
enum CRI {
    static func podConfig(_ name: String, harness: CRIHarness, network: Runtime_V1_NamespaceMode = .pod,
                          pid: Runtime_V1_NamespaceMode = .container, ipc: Runtime_V1_NamespaceMode = .pod,
                          labels: [String: String] = [:], annotations: [String: String] = [:]) -> Runtime_V1_PodSandboxConfig {
        var c = Runtime_V1_PodSandboxConfig()
        c.metadata.name = name
        c.metadata.namespace = "cri-test"
        c.metadata.uid = "uid-\(name)-\(UInt32.random(in: 0...999_999))"
        c.hostname = name
        c.logDirectory = harness.logDir + "/cri-test_\(name)_\(c.metadata.uid)"
        c.labels = labels
        c.annotations = annotations
        c.linux.securityContext.namespaceOptions.network = network
        c.linux.securityContext.namespaceOptions.pid = pid
        c.linux.securityContext.namespaceOptions.ipc = ipc
        return c
    }

    static func containerConfig(_ name: String, command: [String], logPath: String? = nil) -> Runtime_V1_ContainerConfig {
        var c = Runtime_V1_ContainerConfig()
        c.metadata.name = name
        c.image.image = CRIHarness.image
        c.command = command
        c.logPath = logPath ?? "\(name)/0.log"
        return c
    }

    static let sleeper = ["/bin/sh", "-c", "exec sleep 3600"]

    static func runPod(_ rt: RuntimeClient, _ config: Runtime_V1_PodSandboxConfig) async throws -> String {
        var r = Runtime_V1_RunPodSandboxRequest()
        r.config = config
        return try await rt.runPodSandbox(r).podSandboxID
    }

    static func create(_ rt: RuntimeClient, _ sandbox: String, _ pod: Runtime_V1_PodSandboxConfig, _ config: Runtime_V1_ContainerConfig) async throws -> String {
        var r = Runtime_V1_CreateContainerRequest()
        r.podSandboxID = sandbox
        r.config = config
        r.sandboxConfig = pod
        return try await rt.createContainer(r).containerID
    }

    static func start(_ rt: RuntimeClient, _ id: String) async throws {
        var r = Runtime_V1_StartContainerRequest()
        r.containerID = id
        _ = try await rt.startContainer(r)
    }

    static func run(_ rt: RuntimeClient, _ sandbox: String, _ pod: Runtime_V1_PodSandboxConfig, _ config: Runtime_V1_ContainerConfig) async throws -> String {
        let id = try await create(rt, sandbox, pod, config)
        try await start(rt, id)
        return id
    }

    static func status(_ rt: RuntimeClient, _ id: String, verbose: Bool = false) async throws -> Runtime_V1_ContainerStatusResponse {
        var r = Runtime_V1_ContainerStatusRequest()
        r.containerID = id
        r.verbose = verbose
        return try await rt.containerStatus(r)
    }

    static func podStatus(_ rt: RuntimeClient, _ id: String, verbose: Bool = false) async throws -> Runtime_V1_PodSandboxStatusResponse {
        var r = Runtime_V1_PodSandboxStatusRequest()
        r.podSandboxID = id
        r.verbose = verbose
        return try await rt.podSandboxStatus(r)
    }

    struct Exec {
        var stdout: String
        var stderr: String
        var exitCode: Int32
    }

    static func exec(_ rt: RuntimeClient, _ id: String, _ cmd: [String], timeout: Int64 = 10) async throws -> Exec {
        var r = Runtime_V1_ExecSyncRequest()
        r.containerID = id
        r.cmd = cmd
        r.timeout = timeout
        let out = try await rt.execSync(r)
        return Exec(stdout: String(decoding: out.stdout, as: UTF8.self), stderr: String(decoding: out.stderr, as: UTF8.self), exitCode: out.exitCode)
    }

    static func sh(_ rt: RuntimeClient, _ id: String, _ script: String) async throws -> String {
        try await exec(rt, id, ["/bin/sh", "-c", script]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func stopContainer(_ rt: RuntimeClient, _ id: String, timeout: Int64 = 0) async throws {
        var r = Runtime_V1_StopContainerRequest()
        r.containerID = id
        r.timeout = timeout
        _ = try await rt.stopContainer(r)
    }

    static func removeContainer(_ rt: RuntimeClient, _ id: String) async throws {
        var r = Runtime_V1_RemoveContainerRequest()
        r.containerID = id
        _ = try await rt.removeContainer(r)
    }

    static func stopPod(_ rt: RuntimeClient, _ id: String) async throws {
        var r = Runtime_V1_StopPodSandboxRequest()
        r.podSandboxID = id
        _ = try await rt.stopPodSandbox(r)
    }

    static func removePod(_ rt: RuntimeClient, _ id: String) async throws {
        var r = Runtime_V1_RemovePodSandboxRequest()
        r.podSandboxID = id
        _ = try await rt.removePodSandbox(r)
    }

    /// The gRPC status code a call failed with (nil when it succeeded).
    static func code<T>(_ body: () async throws -> T) async -> RPCError.Code? {
        do {
            _ = try await body()
            return nil
        } catch let error as RPCError {
            return error.code
        } catch {
            return .unknown
        }
    }

    /// Polls `condition` every 50 ms up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return (try? await condition()) == true
    }
}
