import Glibc
import LinuxPrimitives
import ShimProtocol

/// Runs a process in a container through its pod's shim, handing it our stdio descriptors.
/// Blocks the calling thread until the process exits: call it off the cooperative pool.
public enum ExecClient {
    public struct Timeout: Error, CustomStringConvertible {
        public let seconds: Int64
        public var description: String { "command timed out after \(seconds)s" }
    }

    public static func run(sandboxDir: String, containerID: String, command: [String], env: [String] = [],
                           stdin: Int32, stdout: Int32, stderr: Int32, timeoutSeconds: Int64 = 0) throws -> Int32 {
        let socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
        defer { socket.close() }
        var request = ShimProtocol.request(.exec, [("id", containerID)])
        for arg in command { request.append("arg", arg) }
        for e in env { request.append("env", e) }
        socket.setReceiveTimeout(milliseconds: 30_000)
        let reply = try socket.call(request, fds: [stdin, stdout, stderr])
        if let error = reply.string("error") { throw ShimClient.ShimError(message: "exec in container \(containerID): \(error)") }
        socket.setReceiveTimeout(milliseconds: timeoutSeconds > 0 ? Int(timeoutSeconds * 1000) : 0)
        do {
            guard let (done, _) = try socket.receiveRecords() else {
                throw ShimClient.ShimError(message: "exec: shim closed the connection")
            }
            return Int32(done.int("exit_code") ?? -1)
        } catch let error as SystemError where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
            throw Timeout(seconds: timeoutSeconds)
        }
    }
}
