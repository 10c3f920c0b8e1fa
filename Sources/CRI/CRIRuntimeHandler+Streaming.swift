import Foundation
import CRIAPI
import GRPCCore
import Runtime
import LinuxPrimitives
import Streaming

extension CRIRuntimeHandler {
    func execSync(request: Runtime_V1_ExecSyncRequest, context: ServerContext) async throws -> Runtime_V1_ExecSyncResponse {
        let id = try resolveContainer(request.containerID)
        guard !request.cmd.isEmpty else { throw CRIErrors.invalid("cmd is required") }
        let result = try await CRIErrors.mapping("ExecSync in container \(id)") {
            try await runtime.execSync(id, command: request.cmd, timeoutSeconds: max(0, request.timeout))
        }
        var r = Runtime_V1_ExecSyncResponse()
        r.stdout = Data(result.stdout)
        r.stderr = Data(result.stderr)
        r.exitCode = result.exitCode
        return r
    }

    func exec(request: Runtime_V1_ExecRequest, context: ServerContext) async throws -> Runtime_V1_ExecResponse {
        let id = try resolveContainer(request.containerID)
        guard !request.cmd.isEmpty else { throw CRIErrors.invalid("cmd is required") }
        guard request.stdin || request.stdout || request.stderr else {
            throw CRIErrors.invalid("one of stdin, stdout, or stderr must be set")
        }
        if request.tty && request.stderr { throw CRIErrors.invalid("tty and stderr cannot both be true") }
        try requireRunning(id)
        var r = Runtime_V1_ExecResponse()
        r.url = try await CRIErrors.mapping("Exec") {
            try streaming.url(for: ExecOptions(containerID: id, command: request.cmd, stdin: request.stdin, stdout: request.stdout,
                                               stderr: request.stderr, tty: request.tty))
        }
        return r
    }

    func attach(request: Runtime_V1_AttachRequest, context: ServerContext) async throws -> Runtime_V1_AttachResponse {
        let id = try resolveContainer(request.containerID)
        guard request.stdin || request.stdout || request.stderr else {
            throw CRIErrors.invalid("one of stdin, stdout, and stderr must be set")
        }
        if request.tty && request.stderr { throw CRIErrors.invalid("tty and stderr cannot both be true") }
        try requireRunning(id)
        var r = Runtime_V1_AttachResponse()
        r.url = try await CRIErrors.mapping("Attach") {
            try streaming.url(for: AttachOptions(containerID: id, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr,
                                                 tty: request.tty))
        }
        return r
    }

    func portForward(request: Runtime_V1_PortForwardRequest, context: ServerContext) async throws -> Runtime_V1_PortForwardResponse {
        let id = try resolveSandbox(request.podSandboxID)
        let ports = try request.port.map { port -> UInt16 in
            guard port > 0, port <= 65535 else { throw CRIErrors.invalid("port \(port) is outside 1-65535") }
            return UInt16(port)
        }
        guard (try? runtime.podSandboxStatus(id).state) == .ready else {
            throw RPCError(code: .failedPrecondition, message: "pod sandbox \(id) is not ready")
        }
        var r = Runtime_V1_PortForwardResponse()
        r.url = try await CRIErrors.mapping("PortForward") { try streaming.url(for: PortForwardOptions(sandboxID: id, ports: ports)) }
        return r
    }

    func requireRunning(_ id: String) throws {
        let state = try runtime.containerStatus(id).state
        guard state == .running else {
            throw RPCError(code: .failedPrecondition, message: "container \(id) is not running (\(state.rawValue))")
        }
    }
}
