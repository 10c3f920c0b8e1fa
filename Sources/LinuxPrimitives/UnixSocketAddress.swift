import CLinux
import Glibc

/// An AF_UNIX address as systemd and D-Bus spell them: a filesystem path, or an abstract name
/// written with a leading `@` (the kernel's leading NUL byte). `$NOTIFY_SOCKET` uses both forms.
public struct UnixSocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case path(String)
        /// The name without the leading NUL; it may contain any byte.
        case abstract([UInt8])
    }

    public let kind: Kind

    public init(path: String) { kind = .path(path) }
    public init(abstract name: [UInt8]) { kind = .abstract(name) }

    /// Parses `/run/x.sock` or `@name`; anything else (empty, relative, `vsock:`) is refused with
    /// an error naming the text, since sending to a wrong address would fail silently later.
    public init(parsing text: String) throws {
        if text.hasPrefix("@"), text.utf8.count > 1 {
            kind = .abstract(Array(text.utf8.dropFirst()))
        } else if text.hasPrefix("/") {
            kind = .path(text)
        } else {
            throw SystemError("unix socket address", errno: EAFNOSUPPORT, path: text)
        }
        if Self.maxNameLength < nameLength {
            throw SystemError("unix socket address", errno: ENAMETOOLONG, path: text)
        }
    }

    /// sun_path holds 108 bytes: a path needs its NUL terminator, an abstract name its leading NUL.
    static let maxNameLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    private var nameLength: Int {
        switch kind {
        case .path(let p): return p.utf8.count
        case .abstract(let name): return name.count
        }
    }

    public var description: String {
        switch kind {
        case .path(let p): return p
        case .abstract(let name): return "@" + String(decoding: name, as: UTF8.self)
        }
    }

    /// Calls `body` with the sockaddr and the exact length the kernel expects: for an abstract
    /// name the length ends at the name (no terminator), otherwise the name would gain NULs.
    @discardableResult
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8]
        let offset: Int
        switch kind {
        case .path(let p): bytes = Array(p.utf8); offset = 0
        case .abstract(let name): bytes = name; offset = 1
        }
        guard bytes.count <= Self.maxNameLength else {
            throw SystemError("unix socket address", errno: ENAMETOOLONG, path: description)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[offset + i] = b }
        }
        let familySize = MemoryLayout<sa_family_t>.size
        let length: Int
        switch kind {
        case .path: length = familySize + bytes.count + 1
        case .abstract: length = familySize + 1 + bytes.count
        }
        return try withUnsafePointer(to: &addr) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(length)) }
        }
    }
}

/// A datagram AF_UNIX socket: what `$NOTIFY_SOCKET` is, and what a test binds to listen as
/// systemd would.
public struct UnixDatagramSocket: Sendable, Hashable {
    public let fd: FileDescriptor

    /// An unbound, close-on-exec datagram socket (enough for sending).
    public static func make() throws -> UnixDatagramSocket {
        let s = try syscall("socket(AF_UNIX, SOCK_DGRAM)") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        return UnixDatagramSocket(fd: FileDescriptor(rawValue: s))
    }

    /// A datagram socket bound to `address` (a path is replaced if it exists).
    public static func bind(_ address: UnixSocketAddress) throws -> UnixDatagramSocket {
        let sock = try make()
        do {
            if case .path(let p) = address.kind { unlink(p) }
            try address.withSockaddr { addr, len in
                try syscall("bind", path: address.description) { Glibc.bind(sock.fd.rawValue, addr, len) }
            }
        } catch {
            sock.close()
            throw error
        }
        return sock
    }

    /// Sends one datagram to `address`.
    public func send(_ bytes: [UInt8], to address: UnixSocketAddress) throws {
        let sent = try address.withSockaddr { addr, len in
            try bytes.withUnsafeBytes { raw in
                try syscallSize("sendto", path: address.description) {
                    sendto(fd.rawValue, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), addr, len)
                }
            }
        }
        if sent != bytes.count { throw SystemError("sendto(short)", errno: EMSGSIZE, path: address.description) }
    }

    /// Receives one datagram (up to `capacity` bytes).
    public func receive(capacity: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let n = try buffer.withUnsafeMutableBytes { raw in
            try syscallSize("recv") { recv(fd.rawValue, raw.baseAddress, raw.count, 0) }
        }
        return Array(buffer[0..<n])
    }

    public func setReceiveTimeout(milliseconds: Int) throws {
        try FileDescriptor.setReceiveTimeout(fd, milliseconds: milliseconds)
    }

    public func close() { fd.close() }
}

/// A stream AF_UNIX connection carrying bytes and, alongside them, descriptors (SCM_RIGHTS):
/// the transport D-Bus runs on.
public struct UnixStreamSocket: Sendable, Hashable {
    public let fd: FileDescriptor

    public static func connect(_ address: UnixSocketAddress) throws -> UnixStreamSocket {
        let s = try syscall("socket(AF_UNIX, SOCK_STREAM)", path: address.description) {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try address.withSockaddr { addr, len in
                try syscall("connect", path: address.description) { Glibc.connect(s, addr, len) }
            }
        } catch {
            Glibc.close(s)
            throw error
        }
        return UnixStreamSocket(fd: FileDescriptor(rawValue: s))
    }

    /// Sends every byte; `fds` travel with the first chunk.
    public func send(_ bytes: [UInt8], fds: [Int32] = []) throws {
        var offset = 0
        var pending = fds
        while offset < bytes.count || !pending.isEmpty {
            let n = bytes[offset...].withUnsafeBytes { raw in
                pending.withUnsafeBufferPointer {
                    clinux_send_fds(fd.rawValue, raw.baseAddress, raw.count, $0.baseAddress, Int32($0.count))
                }
            }
            if n < 0 { throw SystemError.current("sendmsg") }
            offset += n
            pending = []
        }
    }

    /// Receives what is there (at most `capacity` bytes) and any descriptors that came with it
    /// (close-on-exec; the caller owns them). Empty bytes and no descriptors: the peer closed.
    public func receive(capacity: Int = 65536) throws -> (bytes: [UInt8], fds: [Int32]) {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var fds = [Int32](repeating: -1, count: 16)
        var count: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { raw in
            fds.withUnsafeMutableBufferPointer {
                clinux_recv_fds(fd.rawValue, raw.baseAddress, raw.count, $0.baseAddress, 16, &count)
            }
        }
        if n < 0 { throw SystemError.current("recvmsg") }
        return (Array(buffer[0..<n]), Array(fds[0..<Int(count)]))
    }

    public func setReceiveTimeout(milliseconds: Int) throws {
        try FileDescriptor.setReceiveTimeout(fd, milliseconds: milliseconds)
    }

    /// Stops both directions, waking a thread blocked in `receive` (it then sees end of stream).
    public func shutdown() { _ = Glibc.shutdown(fd.rawValue, Int32(SHUT_RDWR)) }

    public func close() { fd.close() }
}

extension FileDescriptor {
    /// SO_RCVTIMEO: a blocked receive fails with EAGAIN after this long (0: wait forever).
    static func setReceiveTimeout(_ fd: FileDescriptor, milliseconds: Int) throws {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        try syscall("setsockopt(SO_RCVTIMEO)") {
            setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
    }
}
