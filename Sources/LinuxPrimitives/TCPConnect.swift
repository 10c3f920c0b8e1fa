import Glibc

/// A TCP connect with a timeout (a kubelet tcpSocket probe): success means the port accepted.
public enum TCPConnect {
    public static func check(host: String, port: Int, timeoutMilliseconds: Int32) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let info = result else { throw SystemError("getaddrinfo", errno: EADDRNOTAVAIL, path: host) }
        defer { freeaddrinfo(result) }
        let fd = try syscall("socket") { socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        defer { close(fd) }
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw SystemError.current("connect", path: "\(host):\(port)") }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, timeoutMilliseconds)
            if ready == 0 { throw SystemError("connect", errno: ETIMEDOUT, path: "\(host):\(port)") }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { throw SystemError("connect", errno: err, path: "\(host):\(port)") }
        }
    }
}
