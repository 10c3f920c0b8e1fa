import Glibc

/// A dedicated OS thread for work that blocks in the kernel for a long time (reading a bus
/// socket, waiting on a descriptor): done on Swift's cooperative pool it would take one of the
/// few threads every task shares.
public enum DetachedThread {
    /// Starts `body` on a new detached thread; it runs until `body` returns.
    public static func start(_ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: rc)
        }
        pthread_detach(thread)
    }

    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
