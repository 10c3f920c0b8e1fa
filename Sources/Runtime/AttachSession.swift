import Glibc
import LinuxPrimitives
import ShimProtocol

/// A client attached to a running container's stdio through its pod's shim (CRI Attach). The
/// shim writes the container's output to our `stdout`/`stderr` descriptors and forwards what
/// arrives on `stdin`; the session lasts until the container exits or `close()`.
public final class AttachSession: Sendable {
    let socket: UnixSocket
    /// Whether the container runs with a terminal (then all output arrives on stdout).
    public let tty: Bool

    /// Attaches; `stdin` nil when the client sends no input. The descriptors are duplicated
    /// into the shim: the caller keeps (and closes) its own.
    static func open(sandboxDir: String, containerID: String, stdin: Int32?, stdout: Int32, stderr: Int32) throws -> AttachSession {
        let socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
        do {
            let devnull = try FileDescriptor.open("/dev/null", O_RDONLY)
            defer { devnull.close() }
            var request = ShimProtocol.request(.attach, [("id", containerID)])
            request.append("stdin", stdin != nil)
            socket.setReceiveTimeout(milliseconds: 30_000)
            let reply = try socket.call(request, fds: [stdin ?? devnull.rawValue, stdout, stderr])
            if let error = reply.string("error") { throw RuntimeError(.failedPrecondition, "attach to container \(containerID): \(error)") }
            socket.setReceiveTimeout(milliseconds: 0)
            return AttachSession(socket: socket, tty: reply.string("tty") == "1")
        } catch {
            socket.close()
            throw error
        }
    }

    init(socket: UnixSocket, tty: Bool) {
        self.socket = socket
        self.tty = tty
    }

    /// Blocks until the container exits (its exit code) or the session is closed (nil).
    public func wait() -> Int32? {
        guard let (records, extra) = (try? socket.receiveRecords()) ?? nil else { return nil }
        for f in extra { Glibc.close(f) }
        return records.int("exit_code").map { Int32(truncatingIfNeeded: $0) }
    }

    /// Detaches: the shim stops copying and closes its copies of the descriptors.
    public func close() {
        _ = Glibc.shutdown(socket.fd.rawValue, Int32(SHUT_RDWR))
    }

    deinit { socket.close() }
}

extension RuntimeService {
    /// The container, required to be running (exec, attach).
    func runningContainer(_ id: String) throws -> ContainerRecord {
        let record = try container(id)
        let state = try containerStatus(id).state
        guard state == .running else {
            throw RuntimeError(.failedPrecondition, "container \(id) is not running (\(state.rawValue))")
        }
        return record
    }

    /// CRI ExecSync: runs `command` to completion (or `timeoutSeconds`, 0 for no limit) and
    /// returns its output, each stream capped at 16 MiB.
    public func execSync(_ id: String, command: [String], timeoutSeconds: Int64) async throws -> ExecSyncResult {
        guard !command.isEmpty else { throw RuntimeError(.invalid, "exec in container \(id): empty command") }
        let record = try runningContainer(id)
        let dir = sandboxDir(record.sandboxID)
        return try await DetachedThread.run {
            try ExecClient.capture(sandboxDir: dir, containerID: id, command: command, timeoutSeconds: timeoutSeconds)
        }
    }

    /// An exec whose stdio are the given descriptors (a pty slave three times when `tty`);
    /// returns the exit code. Waits on a thread of its own; cancelling the task kills the process.
    public func execStreaming(_ id: String, command: [String], tty: Bool, stdin: Int32, stdout: Int32, stderr: Int32) async throws -> Int32 {
        guard !command.isEmpty else { throw RuntimeError(.invalid, "exec in container \(id): empty command") }
        let record = try runningContainer(id)
        let dir = sandboxDir(record.sandboxID)
        let handle = try await DetachedThread.run {
            try ExecClient.start(sandboxDir: dir, containerID: id, command: command, stdin: stdin, stdout: stdout, stderr: stderr, tty: tty)
        }
        return try await withTaskCancellationHandler {
            try await DetachedThread.run { try handle.wait() }
        } onCancel: {
            handle.cancel()
        }
    }

    /// Attaches to a running container's stdio (see `AttachSession`).
    public func attach(_ id: String, stdin: Int32?, stdout: Int32, stderr: Int32) throws -> AttachSession {
        let record = try runningContainer(id)
        if stdin != nil && !record.config.stdin {
            throw RuntimeError(.invalid, "container \(id) was not created with stdin: cannot attach input")
        }
        return try AttachSession.open(sandboxDir: sandboxDir(record.sandboxID), containerID: id, stdin: stdin, stdout: stdout, stderr: stderr)
    }

    /// The window size of a tty container's terminal (attach with a terminal).
    public func resizeTerminal(_ id: String, rows: UInt16, columns: UInt16) throws {
        let record = try container(id)
        _ = try ShimClient(sandboxDir: sandboxDir(record.sandboxID)).call(.resize, [("id", id), ("rows", String(rows)), ("cols", String(columns))])
    }

    /// A TCP connection to `port` on the pod's loopback, made inside its network namespace
    /// (the node's for host-network pods). CRI PortForward's data path.
    public func connectToPodPort(_ sandboxID: String, port: UInt16) throws -> FileDescriptor {
        let record = try sandbox(sandboxID)
        guard record.state == .ready else { throw RuntimeError(.failedPrecondition, "sandbox \(sandboxID) is not ready") }
        if record.config.network == .node { return try LoopbackConnection.connect(port: port) }
        return try NetworkNamespaceThread.run(in: ShimProtocol.Paths.namespace(sandboxDir(sandboxID), .net)) {
            try LoopbackConnection.connect(port: port)
        }
    }
}
