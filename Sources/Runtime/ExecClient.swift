import Glibc
import LinuxPrimitives
import ShimProtocol

/// Runs a process in a container through its pod's shim, handing it our stdio descriptors.
/// `run` blocks the calling thread until the process exits: call it off the cooperative pool.
public enum ExecClient {
    public struct Timeout: Error, CustomStringConvertible {
        public let seconds: Int64
        public var description: String { "command timed out after \(seconds)s" }
    }

    /// A started exec: the shim connection its exit status will arrive on. Closing the
    /// connection (`cancel`) makes the shim kill the process.
    public final class Handle: Sendable {
        let socket: UnixSocket
        let containerID: String
        public let pid: Int32

        init(socket: UnixSocket, containerID: String, pid: Int32) {
            self.socket = socket
            self.containerID = containerID
            self.pid = pid
        }

        /// Blocks until the process exits and returns its exit code (128+n for signal n).
        public func wait(timeoutSeconds: Int64 = 0) throws -> Int32 {
            socket.setReceiveTimeout(milliseconds: timeoutSeconds > 0 ? Int(timeoutSeconds * 1000) : 0)
            do {
                guard let (done, extra) = try socket.receiveRecords() else {
                    throw ShimClient.ShimError(message: "exec in container \(containerID): the shim closed the connection")
                }
                for f in extra { close(f) }
                return Int32(done.int("exit_code") ?? -1)
            } catch let error as SystemError where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
                throw Timeout(seconds: timeoutSeconds)
            }
        }

        /// Ends the exec: the shim sees the connection go and kills the process.
        public func cancel() {
            _ = shutdown(socket.fd.rawValue, Int32(SHUT_RDWR))
        }

        deinit { socket.close() }
    }

    /// Starts `command` with the given descriptors as its stdio (duplicated into the shim; the
    /// caller keeps its own). With `tty` the three are a pty slave, made the controlling terminal.
    public static func start(sandboxDir: String, containerID: String, command: [String], env: [String] = [],
                             stdin: Int32, stdout: Int32, stderr: Int32, tty: Bool = false) throws -> Handle {
        let socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
        do {
            var request = ShimProtocol.request(.exec, [("id", containerID)])
            if tty { request.append("tty", "1") }
            for arg in command { request.append("arg", arg) }
            for e in env { request.append("env", e) }
            socket.setReceiveTimeout(milliseconds: 30_000)
            let reply = try socket.call(request, fds: [stdin, stdout, stderr])
            if let error = reply.string("error") { throw ShimClient.ShimError(message: "exec in container \(containerID): \(error)") }
            return Handle(socket: socket, containerID: containerID, pid: Int32(reply.int("pid") ?? 0))
        } catch {
            socket.close()
            throw error
        }
    }

    public static func run(sandboxDir: String, containerID: String, command: [String], env: [String] = [],
                           stdin: Int32, stdout: Int32, stderr: Int32, tty: Bool = false, timeoutSeconds: Int64 = 0) throws -> Int32 {
        let handle = try start(sandboxDir: sandboxDir, containerID: containerID, command: command, env: env,
                               stdin: stdin, stdout: stdout, stderr: stderr, tty: tty)
        return try handle.wait(timeoutSeconds: timeoutSeconds)
    }
}
