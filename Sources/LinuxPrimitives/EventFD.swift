import CLinux
import Glibc

/// An eventfd used to wake a thread blocked in poll(2) from another thread.
public struct EventFD: Sendable {
    public let fd: FileDescriptor

    public init() throws {
        fd = FileDescriptor(rawValue: try syscall("eventfd") { clinux_eventfd() })
    }

    public func signal() {
        var one: UInt64 = 1
        _ = write(fd.rawValue, &one, 8)
    }

    public func drain() {
        var value: UInt64 = 0
        _ = read(fd.rawValue, &value, 8)
    }
}
