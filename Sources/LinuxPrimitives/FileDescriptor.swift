import Glibc
import CLinux

/// A raw file descriptor with the operations Swiftlet needs, as a plain value so it can cross
/// actor boundaries; whoever opened it owns closing it (`close()` is idempotent per value only,
/// so do not copy a descriptor and close both copies).
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` with `O_CLOEXEC` always added: no descriptor of ours may leak into a child.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = try syscall("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens relative to this directory descriptor (`openat`), with `O_CLOEXEC`.
    public func openAt(_ name: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = try syscall("openat", path: name) { Glibc.openat(rawValue, name, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// Reads up to `count` bytes; an empty result means end of file.
    public func read(upTo count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { raw in
            try syscallSize("read") { Glibc.read(rawValue, raw.baseAddress, count) }
        }
        buffer.removeSubrange(n...)
        return buffer
    }

    /// Reads until end of file.
    public func readAll(chunk: Int = 65536) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buffer.withUnsafeMutableBytes { raw in
                try syscallSize("read") { Glibc.read(rawValue, raw.baseAddress, chunk) }
            }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    /// Writes every byte, looping over short writes.
    public func writeAll<Bytes: Collection>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        let array = Array(bytes)
        var offset = 0
        try array.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = try syscallSize("write") {
                    Glibc.write(rawValue, raw.baseAddress! + offset, raw.count - offset)
                }
                offset += n
            }
        }
    }

    public func writeAll(_ string: String) throws {
        try writeAll(Array(string.utf8))
    }

    public func fsync() throws {
        try syscall("fsync") { Glibc.fsync(rawValue) }
    }

    public func setNonBlocking(_ on: Bool = true) throws {
        let flags = try syscall("fcntl(F_GETFL)") { fcntl(rawValue, F_GETFL) }
        let updated = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        try syscall("fcntl(F_SETFL)") { fcntl(rawValue, F_SETFL, updated) }
    }

    public func setCloseOnExec(_ on: Bool) throws {
        try syscall("fcntl(F_SETFD)") { fcntl(rawValue, F_SETFD, on ? FD_CLOEXEC : 0) }
    }

    /// Duplicates with `O_CLOEXEC` at the lowest free number at or above `minimum`.
    public func duplicate(minimum: Int32 = 3) throws -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, minimum) })
    }

    /// A pipe whose both ends are close-on-exec.
    public static func pipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [0, 0]
        try syscall("pipe2") { clinux_pipe2(&fds, O_CLOEXEC) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
