import Glibc

/// The one error type for a failed system call, so every failure names what was attempted,
/// on which path, and what the kernel answered: `mount(overlay, /run/swiftlet/...): EINVAL`.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call, with its most telling arguments, e.g. `mount(overlay)` or `setns(net)`.
    public let call: String
    public let errno: Int32
    public let path: String?

    public init(_ call: String, errno: Int32, path: String? = nil) {
        self.call = call
        self.errno = errno
        self.path = path
    }

    /// Captures the calling thread's errno right after a failed call.
    public static func current(_ call: String, path: String? = nil) -> SystemError {
        SystemError(call, errno: Glibc.errno, path: path)
    }

    public var description: String {
        let name = SystemError.errnoName(errno)
        let message = String(cString: strerror(errno))
        if let path { return "\(call), \(path): \(name) (\(message))" }
        return "\(call): \(name) (\(message))"
    }

    /// Symbolic errno names for the values a node agent meets; numbers for the rest.
    public static func errnoName(_ value: Int32) -> String {
        switch value {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EMLINK: return "EMLINK"
        case EPIPE: return "EPIPE"
        case ERANGE: return "ERANGE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case ELOOP: return "ELOOP"
        case ENODATA: return "ENODATA"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETUNREACH: return "ENETUNREACH"
        case ECONNRESET: return "ECONNRESET"
        case ECONNREFUSED: return "ECONNREFUSED"
        case ETIMEDOUT: return "ETIMEDOUT"
        case EPROTONOSUPPORT: return "EPROTONOSUPPORT"
        case EAFNOSUPPORT: return "EAFNOSUPPORT"
        default: return "errno \(value)"
        }
    }
}

/// Runs a system call, retrying while it fails with EINTR, and throws a `SystemError`
/// carrying the call name and path when it fails otherwise. Every raw call goes through here
/// (or `syscallRetrying` for calls returning ssize_t) so the error contract is uniform.
@discardableResult
@inline(__always)
public func syscall(_ call: @autoclosure () -> String, path: String? = nil, _ body: () -> Int32) throws -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let err = Glibc.errno
        if err == EINTR { continue }
        throw SystemError(call(), errno: err, path: path)
    }
}

/// The `ssize_t` flavour of `syscall`, for read/write/recv/send.
@discardableResult
@inline(__always)
public func syscallSize(_ call: @autoclosure () -> String, path: String? = nil, _ body: () -> Int) throws -> Int {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let err = Glibc.errno
        if err == EINTR { continue }
        throw SystemError(call(), errno: err, path: path)
    }
}
