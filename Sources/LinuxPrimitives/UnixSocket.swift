import CLinux
import Glibc

/// Unix sockets as the shim and the agent use them: SOCK_SEQPACKET, so every message keeps its
/// boundary, with descriptors passed alongside (an exec's stdio).
public struct UnixSocket: Sendable, Hashable {
    public let fd: FileDescriptor

    public init(fd: FileDescriptor) { self.fd = fd }

    /// Largest message either side sends (a spawn spec with a seccomp program fits easily).
    public static let maxMessage = 256 * 1024

    public static func listen(path: String, backlog: Int32 = 64, mode: mode_t = 0o600) throws -> UnixSocket {
        unlink(path)
        let s = try syscall("socket(AF_UNIX)", path: path) { socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let sock = UnixSocket(fd: FileDescriptor(rawValue: s))
        do {
            _ = try withSockaddr(path) { addr, len in try syscall("bind", path: path) { bind(s, addr, len) } }
            try syscall("chmod", path: path) { chmod(path, mode) }
            try syscall("listen", path: path) { Glibc.listen(s, backlog) }
        } catch {
            sock.fd.close()
            throw error
        }
        return sock
    }

    public static func connect(path: String) throws -> UnixSocket {
        let s = try syscall("socket(AF_UNIX)", path: path) { socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            _ = try withSockaddr(path) { addr, len in try syscall("connect", path: path) { Glibc.connect(s, addr, len) } }
        } catch {
            Glibc.close(s)
            throw error
        }
        return UnixSocket(fd: FileDescriptor(rawValue: s))
    }

    public func accept() throws -> UnixSocket {
        UnixSocket(fd: FileDescriptor(rawValue: try syscall("accept4") { clinux_accept4(fd.rawValue, O_CLOEXEC) }))
    }

    public func send(_ bytes: [UInt8], fds: [Int32] = []) throws {
        let n = bytes.withUnsafeBytes { raw in
            fds.withUnsafeBufferPointer { clinux_send_fds(fd.rawValue, raw.baseAddress, raw.count, $0.baseAddress, Int32($0.count)) }
        }
        if n < 0 { throw SystemError.current("sendmsg") }
    }

    public func send(_ records: Records, fds: [Int32] = []) throws { try send(records.encoded(), fds: fds) }

    /// Receives one message; an empty message with no descriptors means the peer closed.
    public func receive() throws -> (bytes: [UInt8], fds: [Int32]) {
        var buffer = [UInt8](repeating: 0, count: UnixSocket.maxMessage)
        var fds = [Int32](repeating: -1, count: 16)
        var count: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { raw in
            fds.withUnsafeMutableBufferPointer { clinux_recv_fds(fd.rawValue, raw.baseAddress, raw.count, $0.baseAddress, 16, &count) }
        }
        if n < 0 { throw SystemError.current("recvmsg") }
        return (Array(buffer[0..<n]), Array(fds[0..<Int(count)]))
    }

    /// Receives one `Records` message; nil when the peer closed.
    public func receiveRecords() throws -> (records: Records, fds: [Int32])? {
        let (bytes, fds) = try receive()
        if bytes.isEmpty && fds.isEmpty { return nil }
        guard let records = Records.decode(bytes) else {
            for f in fds { Glibc.close(f) }
            throw SystemError("recvmsg(malformed message)", errno: EPROTO)
        }
        return (records, fds)
    }

    /// One request, one reply.
    public func call(_ request: Records, fds: [Int32] = []) throws -> Records {
        try send(request, fds: fds)
        guard let (reply, extra) = try receiveRecords() else { throw SystemError("recvmsg(peer closed)", errno: ECONNRESET) }
        for f in extra { Glibc.close(f) }
        return reply
    }

    public func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func peerUID() -> uid_t? {
        var uid: uid_t = 0
        return clinux_peer_uid(fd.rawValue, &uid) == 0 ? uid : nil
    }

    public func close() { fd.close() }

    /// Unix socket paths are limited to 107 bytes; a longer one is reached through an O_PATH
    /// descriptor of its directory (`/proc/self/fd/N/name`), which the kernel resolves as usual.
    static func withSockaddr<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        var addr = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        var effective = path
        var directory: FileDescriptor? = nil
        defer { directory?.close() }
        if path.utf8.count >= capacity, let slash = path.lastIndex(of: "/") {
            let dir = try FileDescriptor.open(String(path[..<slash]), Int32(CLINUX_O_PATH) | O_DIRECTORY)
            directory = dir
            effective = "/proc/self/fd/\(dir.rawValue)/" + path[path.index(after: slash)...]
        }
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(effective.utf8)
        guard bytes.count < capacity else { throw SystemError("bind(AF_UNIX)", errno: ENAMETOOLONG, path: path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &addr) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}
