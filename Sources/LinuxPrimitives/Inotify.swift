import CLinux
import Glibc

/// inotify over one or more directories, read with a timeout so a watcher thread can also
/// notice it is being stopped.
public struct Inotify: Sendable {
    public let fd: FileDescriptor
    public static let directoryChanges: UInt32 = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

    public init() throws {
        fd = FileDescriptor(rawValue: try syscall("inotify_init1") { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) })
    }

    @discardableResult
    public func watch(_ path: String, mask: UInt32 = Inotify.directoryChanges) throws -> Int32 {
        try syscall("inotify_add_watch", path: path) { inotify_add_watch(fd.rawValue, path, mask) }
    }

    /// Waits up to `timeoutMilliseconds` for events; returns how many bytes of events were
    /// consumed (0 on timeout). The events themselves are not decoded: callers rescan.
    public func waitForChanges(timeoutMilliseconds: Int32) -> Int {
        var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMilliseconds) > 0 else { return 0 }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }

    public func close() { fd.close() }
}
