import CSystemLibs
import Glibc
import LinuxPrimitives
import Synchronization

/// A netlink socket through libmnl, shared by the nftables and conntrack clients. The socket
/// belongs to the network namespace of the thread that opened it (see `open(protocol:in:)`),
/// for its whole life, whatever thread uses it later. Calls are serialized by a lock: one
/// request/response exchange at a time.
public final class MNLSocket: Sendable {
    private struct Handle: @unchecked Sendable { let raw: OpaquePointer }
    private let handle: Handle
    private let lock = Mutex(())
    /// The port id the kernel assigned: replies carry it, so we can ignore strays.
    public let portID: UInt32
    /// What this socket talks to, for error messages (`netfilter`, `route`).
    public let label: String

    /// Opens and binds a netlink socket of `protocol` (NETLINK_NETFILTER, NETLINK_ROUTE) in the
    /// calling thread's network namespace.
    public init(protocol proto: Int32, label: String) throws {
        guard let raw = mnl_socket_open2(proto, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw SystemError.current("mnl_socket_open(\(label))")
        }
        if mnl_socket_bind(raw, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let error = SystemError.current("mnl_socket_bind(\(label))")
            mnl_socket_close(raw)
            throw error
        }
        handle = Handle(raw: raw)
        portID = mnl_socket_get_portid(raw)
        self.label = label
        // Errors without the echoed request, but with the kernel's explanation (extack).
        var one: Int32 = 1
        _ = mnl_socket_setsockopt(raw, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(raw, NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Opens the socket in the network namespace at `path` (nil: the caller's own).
    public static func open(protocol proto: Int32, label: String, in path: String?) throws -> MNLSocket {
        guard let path else { return try MNLSocket(protocol: proto, label: label) }
        return try NetworkNamespaceThread.run(in: path) { try MNLSocket(protocol: proto, label: label) }
    }

    deinit { mnl_socket_close(handle.raw) }

    public var fileDescriptor: Int32 { mnl_socket_get_fd(handle.raw) }

    /// Runs one exchange with the socket to itself.
    public func exchange<T>(_ body: (Exchange) throws -> T) rethrows -> T {
        try lock.withLock { _ in try body(Exchange(socket: handle.raw, label: label, portID: portID)) }
    }

    /// Send and receive on a locked socket.
    public struct Exchange {
        fileprivate let socket: OpaquePointer
        public let label: String
        public let portID: UInt32

        /// Sends one buffer holding one or more netlink messages, growing the send buffer
        /// first when the batch is larger than it (netlink refuses oversize sends).
        public func send(_ bytes: UnsafeRawBufferPointer) throws {
            let fd = mnl_socket_get_fd(socket)
            if bytes.count > 200_000 {
                var size = Int32(clamping: bytes.count + 4096)
                if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                    _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                }
            }
            let sent = try syscallSize("sendto(netlink \(label))") {
                mnl_socket_sendto(socket, bytes.baseAddress, bytes.count)
            }
            if sent != bytes.count {
                throw SystemError("sendto(netlink \(label)) short write", errno: EMSGSIZE)
            }
        }

        /// Receives one datagram (several messages) into `buffer`; returns its length.
        public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            try syscallSize("recvfrom(netlink \(label))") {
                mnl_socket_recvfrom(socket, buffer.baseAddress, buffer.count)
            }
        }

        /// Raises the receive buffer (dumps of large tables, many error acks).
        public func setReceiveBuffer(_ size: Int32) {
            var value = size
            let fd = mnl_socket_get_fd(socket)
            if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size))
            }
        }
    }
}

/// A view of one netlink message inside a received datagram.
public struct NetlinkMessage {
    public let type: UInt16
    public let flags: UInt16
    public let sequence: UInt32
    public let portID: UInt32
    /// The whole message, header included (what libnftnl's parsers take).
    public let header: UnsafePointer<nlmsghdr>
    /// The bytes after the 16-byte header.
    public let payload: UnsafeRawBufferPointer

    /// Splits a datagram into messages, stopping at a truncated one.
    public static func split(_ buffer: UnsafeRawBufferPointer) -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var offset = 0
        guard let base = buffer.baseAddress else { return out }
        while offset + 16 <= buffer.count {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= 16, offset + length <= buffer.count else { break }
            let header = (base + offset).assumingMemoryBound(to: nlmsghdr.self)
            out.append(NetlinkMessage(
                type: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                portID: buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self),
                header: UnsafePointer(header),
                payload: UnsafeRawBufferPointer(start: base + offset + 16, count: length - 16)))
            offset += (length + 3) & ~3
        }
        return out
    }

    public var isError: Bool { type == UInt16(NLMSG_ERROR) }
    public var isDone: Bool { type == UInt16(NLMSG_DONE) }

    /// For NLMSG_ERROR: the errno (0 for a plain ack), the failed request's sequence number,
    /// and the kernel's extended-ack text when it sent one.
    public var errorInfo: (errno: Int32, requestSequence: UInt32, message: String?)? {
        guard isError, payload.count >= 20 else { return nil }
        let code = payload.loadUnaligned(fromByteOffset: 0, as: Int32.self)
        let requestSeq = payload.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        var message: String?
        if flags & UInt16(NLM_F_ACK_TLVS) != 0 {
            // With NETLINK_CAP_ACK only the request header is echoed; TLVs follow it.
            let requestLength = Int(payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            var offset = flags & UInt16(NLM_F_CAPPED) != 0 ? 20 : 4 + max(requestLength, 16)
            while offset + 4 <= payload.count {
                let len = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                let type = payload.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
                guard len >= 4, offset + len <= payload.count else { break }
                if type == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
                    let bytes = payload[(offset + 4)..<(offset + len)].prefix { $0 != 0 }
                    message = String(decoding: bytes, as: UTF8.self)
                }
                offset += (len + 3) & ~3
            }
        }
        return (-code, requestSeq, message)
    }
}
