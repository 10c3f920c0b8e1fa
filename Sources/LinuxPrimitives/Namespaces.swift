import CLinux
import Glibc

/// Linux namespaces by kind, with their clone flag and /proc name.
public enum NamespaceKind: String, Sendable, CaseIterable {
    case net, ipc, uts, pid, mnt, cgroup

    public var cloneFlag: Int32 {
        switch self {
        case .net: return CLINUX_CLONE_NEWNET
        case .ipc: return CLINUX_CLONE_NEWIPC
        case .uts: return CLINUX_CLONE_NEWUTS
        case .pid: return CLINUX_CLONE_NEWPID
        case .mnt: return CLINUX_CLONE_NEWNS
        case .cgroup: return CLINUX_CLONE_NEWCGROUP
        }
    }
}

public enum Namespaces {
    /// Moves the calling process (single-threaded: the shim) into new namespaces.
    public static func unshare(_ kinds: [NamespaceKind]) throws {
        let flags = kinds.reduce(Int32(0)) { $0 | $1.cloneFlag }
        try syscall("unshare(\(kinds.map(\.rawValue).joined(separator: ",")))") { clinux_unshare(flags) }
    }

    /// Pins the namespace of `pid` (or of the caller) by bind-mounting its nsfs file onto
    /// `path`, so it outlives every process in it until `release(path)`.
    public static func pin(_ kind: NamespaceKind, of pid: pid_t? = nil, at path: String) throws {
        let source = pid.map { "/proc/\($0)/ns/\(kind.rawValue)" } ?? "/proc/self/ns/\(kind.rawValue)"
        if !FileSystem.exists(path) {
            let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o444)
            fd.close()
        }
        try Mounts.bind(source, to: path)
    }

    /// Unmounts and removes a pinned namespace file; missing is fine.
    public static func release(_ path: String) throws {
        try Mounts.unmount(path)
        try FileSystem.removeFile(path)
    }

    /// The namespace identity (`net:[4026531840]`) of a process, for comparisons in tests and re-adoption.
    public static func identity(_ kind: NamespaceKind, of pid: pid_t) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/\(pid)/ns/\(kind.rawValue)", &buffer, 63)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `body` with the calling thread inside the namespace pinned at `path`, then returns
    /// to the original one. The body must not suspend (no `await`): the thread must not change.
    public static func withThreadIn<R>(_ kind: NamespaceKind, path: String, _ body: () throws -> R) throws -> R {
        let original = try FileDescriptor.open("/proc/thread-self/ns/\(kind.rawValue)", O_RDONLY)
        defer { original.close() }
        let target = try FileDescriptor.open(path, O_RDONLY)
        defer { target.close() }
        try syscall("setns(\(kind.rawValue))", path: path) { clinux_setns(target.rawValue, kind.cloneFlag) }
        defer { _ = clinux_setns(original.rawValue, kind.cloneFlag) }
        return try body()
    }
}
