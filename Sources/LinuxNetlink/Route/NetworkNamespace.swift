import CLinux
import Glibc
import LinuxPrimitives

/// Entering a network namespace for a moment. The namespace is a property of the *thread*
/// (setns affects only the caller), so the body runs on the calling thread, which is put
/// back into its original namespace before returning, whether the body returns or throws.
///
/// The body must be synchronous and must not suspend: an `await` inside would let the
/// concurrency runtime run other tasks on this thread while it is in the wrong namespace, and
/// resume this one on a thread that never entered it. Prefer opening what you need (a
/// `RouteSocket`, a listening socket) inside and using it after: sockets stay bound to the
/// namespace they were created in.
public enum NetworkNamespace {
    /// The calling thread's current network namespace file (not the process's: threads differ).
    public static let currentThreadPath = "/proc/thread-self/ns/net"

    public static func run<R>(_ path: String, _ body: () throws -> R) throws -> R {
        let original = try FileDescriptor.open(currentThreadPath, O_RDONLY)
        defer { original.close() }
        let target = try FileDescriptor.open(path, O_RDONLY)
        defer { target.close() }
        try syscall("setns(net)", path: path) { clinux_netns_enter(target.rawValue) }
        defer {
            if clinux_netns_enter(original.rawValue) != 0 {
                // Continuing would run unrelated work in a pod's namespace: there is no safe way on.
                fatalError("setns back to the original network namespace failed: \(SystemError.current("setns(net)"))")
            }
        }
        return try body()
    }

    /// Whether two namespace files name the same namespace (same device and inode).
    public static func isSame(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// Whether `path` is a namespace file (an nsfs inode or a bind mount of one): namespace
    /// files all live on the one nsfs superblock, so they share its device number.
    public static func exists(_ path: String) -> Bool {
        var target = stat(), reference = stat()
        guard stat(path, &target) == 0, stat(currentThreadPath, &reference) == 0 else { return false }
        return target.st_dev == reference.st_dev
    }
}

extension NetworkNamespace {
    /// Creates a new, empty network namespace and pins it with a bind mount at `path` (as
    /// `ip netns add` does under /run/netns), so it outlives the thread that made it. The
    /// calling thread enters it only for the moment of creation.
    public static func create(pinnedAt path: String) throws {
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        try FileSystem.createDirectory("/" + parent)
        let placeholder = try FileDescriptor.open(path, O_RDONLY | O_CREAT | O_EXCL, mode: 0o444)
        placeholder.close()
        let original = try FileDescriptor.open(currentThreadPath, O_RDONLY)
        defer { original.close() }
        do {
            try syscall("unshare(CLONE_NEWNET)") { clinux_netns_unshare() }
        } catch {
            unlink(path)
            throw error
        }
        let mounted = mount(currentThreadPath, path, nil, UInt(MS_BIND), nil) == 0 ? nil : SystemError.current("mount(bind netns)", path: path)
        if clinux_netns_enter(original.rawValue) != 0 {
            fatalError("setns back to the original network namespace failed: \(SystemError.current("setns(net)"))")
        }
        if let mounted {
            unlink(path)
            throw mounted
        }
    }

    /// Unpins and removes a namespace made by `create(pinnedAt:)`; the namespace itself goes
    /// away with its last user. Missing is fine.
    public static func remove(pinnedAt path: String) throws {
        guard FileSystem.exists(path) else { return }
        if umount2(path, Int32(MNT_DETACH)) != 0 && Glibc.errno != EINVAL && Glibc.errno != ENOENT {
            throw SystemError.current("umount2(netns)", path: path)
        }
        try FileSystem.removeFile(path)
    }
}
