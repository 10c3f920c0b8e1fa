import Glibc
import LinuxPrimitives
import ShimProtocol

/// Talks to one pod's shim over its control socket, one connection per request (a connect on
/// a local socket costs microseconds and keeps no state that a restart could lose).
struct ShimClient: Sendable {
    let sandboxDir: String

    struct ShimError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func call(_ op: ShimProtocol.Op, _ fields: [(String, String)] = [], fds: [Int32] = []) throws -> Records {
        let socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
        defer { socket.close() }
        socket.setReceiveTimeout(milliseconds: 30_000)
        let reply = try socket.call(ShimProtocol.request(op, fields), fds: fds)
        if let error = reply.string("error") { throw ShimError(message: error) }
        return reply
    }

    func isAlive() -> Bool { (try? call(.ping)) != nil }

    /// Collects an ended shim we started (it is our child until we die): without this it
    /// would stay a zombie. A shim re-adopted after a restart is not our child (ECHILD), and
    /// nothing else here waits for shims, so its pid cannot have been reused meanwhile.
    static func reap(_ pid: pid_t) {
        guard pid > 0 else { return }
        for _ in 0..<100 {
            let r = waitpid(pid, nil, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { return }
            if r == 0 { usleep(1000) }  // SIGKILLed a moment ago: not reapable yet
        }
    }

    /// Starts a shim for `sandboxDir` (whose shim.conf is written) and waits for its report.
    /// The shim is our child (spawned straight into its cgroup) and `reap` collects it when
    /// its sandbox is stopped; from an init process it forks itself away instead.
    static func launch(shimPath: String, sandboxDir: String, cgroupDir: String? = nil) throws -> pid_t {
        let pipe = try FileDescriptor.pipe()
        // No backtracer start-up in the shim (it reads /proc/self/maps and stats a dozen paths).
        let environment = ["SWIFT_BACKTRACE=enable=no"]
        var intermediate: pid_t? = nil
        do {
            do {
                _ = try Subprocess.spawnDetached(shimPath, arguments: [shimPath, "--no-fork", sandboxDir], environment: environment,
                                                 stdout: pipe.write, cgroupDir: cgroupDir)
            } catch let error as SystemError where error.errno == EINVAL {
                // We are an init process: spawn, and the shim forks itself away from us.
                var options = Subprocess.Options()
                options.newSession = true
                options.stdout = pipe.write
                intermediate = try Subprocess.spawn(shimPath, arguments: [shimPath, sandboxDir], environment: environment, options: options)
            }
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw error
        }
        pipe.write.close()
        defer { pipe.read.close() }
        var line: [UInt8] = []
        while !line.contains(0x0A) {
            let chunk = try pipe.read.read(upTo: 512)
            if chunk.isEmpty { break }
            line.append(contentsOf: chunk)
        }
        if let intermediate { _ = try? Subprocess.wait(intermediate) }
        let text = String(decoding: line, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        if text.hasPrefix("ok "), let pid = pid_t(text.dropFirst(3)) { return pid }
        if text.hasPrefix("error ") { throw ShimError(message: "shim: " + String(text.dropFirst(6))) }
        throw ShimError(message: "shim exited without reporting (\(shimPath))")
    }
}
