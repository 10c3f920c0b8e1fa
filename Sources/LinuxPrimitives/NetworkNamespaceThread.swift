import CLinux
import Glibc

/// Runs code inside another network namespace without moving the calling thread: a fresh
/// thread joins the namespace, runs the body, and exits. Netlink sockets opened there stay
/// bound to that namespace for their whole life, so a process can program several namespaces
/// (tests do; so could an agent managing pod namespaces) from any thread afterwards.
public enum NetworkNamespaceThread {
    /// Runs `body` on a new thread whose network namespace is the one at `path`
    /// (`/run/netns/NAME`, `/proc/PID/ns/net`), waits for it, and returns its result.
    public static func run<T>(in path: String, _ body: () throws -> T) throws -> T {
        var outcome: Result<T, any Error>?
        try runOnThread(path) { outcome = Result { try body() } }
        guard let outcome else { throw SystemError("pthread_join", errno: EINVAL, path: path) }
        return try outcome.get()
    }

    private static func runOnThread(_ path: String, _ work: () -> Void) throws {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        try withoutActuallyEscaping(work) { escapable in
            let task = ThreadTask(fd: fd.rawValue, path: path, work: escapable)
            let context = Unmanaged.passRetained(task).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                Unmanaged<ThreadTask>.fromOpaque(raw).takeRetainedValue().start()
                return nil
            }, context)
            if rc != 0 {
                Unmanaged<ThreadTask>.fromOpaque(context).release()
                throw SystemError("pthread_create", errno: rc, path: path)
            }
            pthread_join(thread, nil)
            if let failure = task.failure { throw failure }
        }
    }

    /// Handed to the new thread; the creator joins before reading it, so no lock is needed.
    private final class ThreadTask: @unchecked Sendable {
        let fd: Int32
        let path: String
        let work: () -> Void
        var failure: SystemError?

        init(fd: Int32, path: String, work: @escaping () -> Void) {
            self.fd = fd
            self.path = path
            self.work = work
        }

        func start() {
            if clinux_join_netns(fd) != 0 {
                failure = SystemError.current("setns(net)", path: path)
                return
            }
            work()
        }
    }
}
