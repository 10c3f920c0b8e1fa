import Glibc

/// A listening SOCK_STREAM unix socket for a server library to adopt (gRPC's CRI endpoint).
/// The socket file gets its mode before `listen`, so no client can connect while it is wider.
public enum UnixStreamListener {
    /// Replaces whatever socket is at `path`, creating missing parent directories (0700).
    public static func bind(path: String, mode: mode_t = 0o600, backlog: Int32 = 128) throws -> FileDescriptor {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try FileSystem.createDirectory(String(path[..<slash]), mode: 0o700)
        }
        if let st = FileSystem.lstatOrNil(path) {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw SystemError("bind(unix)", errno: EEXIST, path: path)
            }
            unlink(path)
        }
        let s = try syscall("socket(AF_UNIX)", path: path) { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            _ = try UnixSocket.withSockaddr(path) { addr, len in try syscall("bind", path: path) { Glibc.bind(s, addr, len) } }
            try syscall("chmod", path: path) { chmod(path, mode) }
            try syscall("listen", path: path) { listen(s, backlog) }
        } catch {
            close(s)
            throw error
        }
        return FileDescriptor(rawValue: s)
    }
}
