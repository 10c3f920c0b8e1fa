import Glibc

/// TCP connections to a port on the loopback interface of the calling thread's network
/// namespace (port forwarding into a pod: run it on a thread inside the pod's namespace).
public enum LoopbackConnection {
    /// Connects to 127.0.0.1:`port`, then [::1]:`port`; the first that accepts wins.
    public static func connect(port: UInt16) throws -> FileDescriptor {
        do { return try connectIPv4(port: port) } catch let first {
            if let v6 = try? connectIPv6(port: port) { return v6 }
            throw first
        }
    }

    static func connectIPv4(port: UInt16) throws -> FileDescriptor {
        let fd = try syscall("socket(AF_INET)") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        do {
            _ = try withUnsafePointer(to: &addr) { p in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("connect(127.0.0.1:\(port))") { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        } catch {
            close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }

    static func connectIPv6(port: UInt16) throws -> FileDescriptor {
        let fd = try syscall("socket(AF_INET6)") { socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_port = port.bigEndian
        addr.sin6_addr = in6addr_loopback
        do {
            _ = try withUnsafePointer(to: &addr) { p in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("connect([::1]:\(port))") { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            }
        } catch {
            close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }
}
