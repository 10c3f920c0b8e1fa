import CLinux
import Glibc

/// Runs helper programs that are part of a protocol (CNI plugins, a test's observer), never
/// system tools in place of syscalls. posix_spawn (vfork-based) keeps it cheap and safe from a
/// multi-threaded process; every descriptor of ours is close-on-exec, so only stdio is passed.
public enum Subprocess {
    public struct Result: Sendable {
        public let status: ExitStatus
        public let stdout: [UInt8]
        public let stderr: [UInt8]
    }

    public enum ExitStatus: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)

        public var succeeded: Bool { self == .exited(0) }
    }

    /// Options for `spawn`: a new session (so the child outlives us and our terminal), stdio
    /// descriptors to hand over, and the child's working directory.
    public struct Options: Sendable {
        public var newSession = false
        public var stdin: FileDescriptor? = nil
        public var stdout: FileDescriptor? = nil
        public var stderr: FileDescriptor? = nil
        public init() {}
    }

    /// Starts `path` with `arguments` (argv[0] included) and `environment` ("K=V" strings),
    /// returning its pid. stdio not given in `options` is /dev/null.
    public static func spawn(_ path: String, arguments: [String], environment: [String], options: Options = Options()) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        for (target, source) in [(Int32(0), options.stdin), (1, options.stdout), (2, options.stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source.rawValue, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if options.newSession { flags |= Int16(0x80) }  // POSIX_SPAWN_SETSID (glibc >= 2.26)
        posix_spawnattr_setflags(&attributes, flags)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)

        var pid: pid_t = 0
        let rc = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, path, &actions, &attributes, argv, envp)
            }
        }
        if rc != 0 { throw SystemError("posix_spawn", errno: rc, path: path) }
        return pid
    }

    /// Starts a long-lived helper that is NOT our child (its parent becomes ours), in its own
    /// session and, when given, directly inside `cgroupDir`. Throws EINVAL when we are an init
    /// process (no parent to hand it to); callers then spawn and let the helper fork away.
    public static func spawnDetached(_ path: String, arguments: [String], environment: [String], stdout: FileDescriptor?,
                                     cgroupDir: String? = nil) throws -> pid_t {
        var cgroupFD: Int32 = -1
        if let cgroupDir {
            cgroupFD = try syscall("open(cgroup)", path: cgroupDir) { open(cgroupDir, Int32(CLINUX_O_PATH) | O_DIRECTORY | O_CLOEXEC) }
        }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        let pid = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                clinux_spawn_detached(path, UnsafePointer(argv).withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: arguments.count + 1) { $0 },
                                      UnsafePointer(envp).withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: environment.count + 1) { $0 },
                                      stdout?.rawValue ?? -1, cgroupFD)
            }
        }
        if pid < 0 { throw SystemError.current("clone3(CLONE_PARENT)", path: path) }
        return pid
    }

    /// Runs to completion, feeding `input` on stdin and collecting stdout and stderr.
    /// Blocks the calling thread: call it from a dedicated thread or a detached context.
    public static func run(_ path: String, arguments: [String], environment: [String], input: [UInt8] = []) throws -> Result {
        let inPipe = try FileDescriptor.pipe()
        let outPipe = try FileDescriptor.pipe()
        let errPipe = try FileDescriptor.pipe()
        var options = Options()
        options.stdin = inPipe.read
        options.stdout = outPipe.write
        options.stderr = errPipe.write
        let pid: pid_t
        do {
            pid = try spawn(path, arguments: arguments, environment: environment, options: options)
        } catch {
            for fd in [inPipe.read, inPipe.write, outPipe.read, outPipe.write, errPipe.read, errPipe.write] { fd.close() }
            throw error
        }
        inPipe.read.close()
        outPipe.write.close()
        errPipe.write.close()
        defer {
            outPipe.read.close()
            errPipe.read.close()
        }
        var pending = input
        var stdinOpen = true
        if pending.isEmpty { inPipe.write.close(); stdinOpen = false } else { try? inPipe.write.setNonBlocking() }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var outOpen = true
        var errOpen = true
        var buffer = [UInt8](repeating: 0, count: 65536)
        while outOpen || errOpen || stdinOpen {
            var fds: [pollfd] = [
                pollfd(fd: outOpen ? outPipe.read.rawValue : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errOpen ? errPipe.read.rawValue : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stdinOpen ? inPipe.write.rawValue : -1, events: Int16(POLLOUT), revents: 0),
            ]
            if poll(&fds, 3, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if stdinOpen && fds[2].revents != 0 {
                let n = pending.withUnsafeBytes { Glibc.write(inPipe.write.rawValue, $0.baseAddress, $0.count) }
                if n > 0 { pending.removeFirst(n) }
                if (n < 0 && errno != EAGAIN && errno != EINTR) || pending.isEmpty {
                    inPipe.write.close()
                    stdinOpen = false
                }
            }
            if outOpen && fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(outPipe.read.rawValue, $0.baseAddress, $0.count) }
                if n > 0 { out.append(contentsOf: buffer[0..<n]) } else if n == 0 || (errno != EINTR && errno != EAGAIN) { outOpen = false }
            }
            if errOpen && fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(errPipe.read.rawValue, $0.baseAddress, $0.count) }
                if n > 0 { err.append(contentsOf: buffer[0..<n]) } else if n == 0 || (errno != EINTR && errno != EAGAIN) { errOpen = false }
            }
        }
        let status = try wait(pid)
        return Result(status: status, stdout: out, stderr: err)
    }

    /// Waits for a child and decodes its status.
    public static func wait(_ pid: pid_t) throws -> ExitStatus {
        var status: Int32 = 0
        try syscall("waitpid(\(pid))") { waitpid(pid, &status, 0) }
        if clinux_wifexited(status) != 0 { return .exited(clinux_wexitstatus(status)) }
        return .signaled(clinux_wtermsig(status))
    }
}

/// Calls `body` with a NULL-terminated C array of C strings that lives for the call.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
