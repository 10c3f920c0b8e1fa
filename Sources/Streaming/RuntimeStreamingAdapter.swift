import LinuxPrimitives
import Runtime

/// The streaming server's view of the runtime: exec and attach through the pod's shim, port
/// connections inside the pod's network namespace.
public struct RuntimeStreamingAdapter: StreamingRuntime {
    let runtime: RuntimeService

    public init(runtime: RuntimeService) { self.runtime = runtime }

    public func exec(_ options: ExecOptions, stdin: Int32, stdout: Int32, stderr: Int32) async throws -> Int32 {
        try await runtime.execStreaming(options.containerID, command: options.command, tty: options.tty,
                                        stdin: stdin, stdout: stdout, stderr: stderr)
    }

    public func attach(_ options: AttachOptions, stdin: Int32?, stdout: Int32, stderr: Int32) async throws -> any StreamingAttachment {
        Attachment(session: try runtime.attach(options.containerID, stdin: stdin, stdout: stdout, stderr: stderr))
    }

    public func resize(containerID: String, to size: TerminalSize) async throws {
        try runtime.resizeTerminal(containerID, rows: size.height, columns: size.width)
    }

    public func connect(sandboxID: String, port: UInt16) async throws -> Int32 {
        let runtime = self.runtime
        return try await DetachedThread.run { try runtime.connectToPodPort(sandboxID, port: port).rawValue }
    }

    struct Attachment: StreamingAttachment {
        let session: AttachSession

        func wait() async -> Int32? {
            let session = self.session
            return (try? await DetachedThread.run { session.wait() }) ?? nil
        }

        func close() { session.close() }
    }
}
