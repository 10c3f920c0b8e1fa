import Glibc
import LinuxPrimitives
import ShimProtocol

/// What a synchronous exec produced (CRI ExecSync).
public struct ExecSyncResult: Sendable, Equatable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var exitCode: Int32

    public init(stdout: [UInt8], stderr: [UInt8], exitCode: Int32) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
    }
}

extension ExecClient {
    /// Runs `command` in the container and collects its output: one thread polls both output
    /// pipes and the shim connection. Each stream keeps at most `limit` bytes (the rest is read
    /// and dropped, so the command never blocks on a full pipe). On timeout the connection is
    /// closed, which makes the shim kill the process, and `Timeout` is thrown.
    public static func capture(sandboxDir: String, containerID: String, command: [String], env: [String] = [],
                               timeoutSeconds: Int64, limit: Int = 16 << 20) throws -> ExecSyncResult {
        let out = try FileDescriptor.pipe()
        let err: (read: FileDescriptor, write: FileDescriptor)
        do { err = try FileDescriptor.pipe() } catch {
            out.read.close()
            out.write.close()
            throw error
        }
        defer {
            out.read.close()
            err.read.close()
        }
        let devnull: FileDescriptor
        do { devnull = try FileDescriptor.open("/dev/null", O_RDONLY) } catch {
            out.write.close()
            err.write.close()
            throw error
        }
        let socket: UnixSocket
        do {
            defer {
                out.write.close()
                err.write.close()
                devnull.close()
            }
            socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
            var request = ShimProtocol.request(.exec, [("id", containerID)])
            for arg in command { request.append("arg", arg) }
            for e in env { request.append("env", e) }
            socket.setReceiveTimeout(milliseconds: 30_000)
            let reply: Records
            do { reply = try socket.call(request, fds: [devnull.rawValue, out.write.rawValue, err.write.rawValue]) } catch {
                socket.close()
                throw error
            }
            if let error = reply.string("error") {
                socket.close()
                throw ShimClient.ShimError(message: "exec in container \(containerID): \(error)")
            }
        }
        defer { socket.close() }
        try out.read.setNonBlocking()
        try err.read.setNonBlocking()
        var collected: [[UInt8]] = [[], []]
        var open = [true, true]
        var exitCode: Int32?
        let deadline = timeoutSeconds > 0 ? WallClock.monotonicNanos() + timeoutSeconds * 1_000_000_000 : Int64.max
        // After the exit, output still in the pipes is read; a background child that keeps them
        // open does not hold the call for more than this long.
        var drainDeadline = Int64.max
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] || exitCode == nil {
            let now = WallClock.monotonicNanos()
            if exitCode == nil && now >= deadline { throw Timeout(seconds: timeoutSeconds) }
            if exitCode != nil && now >= drainDeadline { break }
            var fds: [pollfd] = []
            if open[0] { fds.append(pollfd(fd: out.read.rawValue, events: Int16(POLLIN), revents: 0)) }
            if open[1] { fds.append(pollfd(fd: err.read.rawValue, events: Int16(POLLIN), revents: 0)) }
            if exitCode == nil { fds.append(pollfd(fd: socket.fd.rawValue, events: Int16(POLLIN), revents: 0)) }
            let wait = min(deadline, drainDeadline) - now
            let ms = wait == Int64.max - now ? -1 : Int32(clamping: max(1, wait / 1_000_000))
            let n = poll(&fds, nfds_t(fds.count), ms)
            if n < 0 && errno != EINTR { throw SystemError.current("poll(exec)") }
            for entry in fds where entry.revents != 0 {
                if entry.fd == socket.fd.rawValue {
                    guard let (done, extra) = try socket.receiveRecords() else {
                        throw ShimClient.ShimError(message: "exec: shim closed the connection")
                    }
                    for f in extra { close(f) }
                    exitCode = Int32(done.int("exit_code") ?? -1)
                    drainDeadline = WallClock.monotonicNanos() + 200_000_000
                    continue
                }
                let stream = entry.fd == out.read.rawValue ? 0 : 1
                let got = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    let room = max(0, limit - collected[stream].count)
                    collected[stream].append(contentsOf: chunk[0..<min(got, room)])
                } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                    open[stream] = false
                }
            }
        }
        return ExecSyncResult(stdout: collected[0], stderr: collected[1], exitCode: exitCode ?? -1)
    }
}
