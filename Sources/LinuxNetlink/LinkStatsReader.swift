import CLinux
import CSystemLibs
import Glibc
import LinuxPrimitives

/// Traffic counters of one network interface, as the kernel keeps them (rtnl_link_stats64).
public struct InterfaceCounters: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var isUp: Bool
    public var isLoopback: Bool
    public var rxBytes: UInt64 = 0
    public var rxPackets: UInt64 = 0
    public var rxErrors: UInt64 = 0
    public var rxDropped: UInt64 = 0
    public var txBytes: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var txErrors: UInt64 = 0
    public var txDropped: UInt64 = 0

    public init(index: Int32, name: String, isUp: Bool, isLoopback: Bool) {
        self.index = index
        self.name = name
        self.isUp = isUp
        self.isLoopback = isLoopback
    }
}

/// Reads every interface's counters with one RTM_GETLINK dump on a raw NETLINK_ROUTE socket.
///
/// A netlink socket answers for the network namespace it was created in, so the stats
/// collector opens one per pod with the calling thread briefly switched into the pod's
/// namespace (`inNetworkNamespace`) and then keeps it: every later read costs one
/// send + a few recv, no process is run in the pod, and no thread stays in a foreign namespace.
/// The socket pins the namespace while it is open, so its owner must drop it with the pod.
///
/// Deliberately self-contained (no libnl, no shared rtnetlink helpers): it is a small
/// read-only query on the stats hot path. Not thread-safe; one owner drives it.
public final class LinkStatsReader {
    private let fd: Int32
    private let portID: UInt32
    private var sequence: UInt32 = 0

    /// Wire constants (uapi linux/netlink.h, linux/rtnetlink.h, linux/if_link.h).
    private enum Wire {
        static let headerSize = 16  // struct nlmsghdr
        static let ifinfoSize = 16  // struct ifinfomsg
        static let done: UInt16 = 3  // NLMSG_DONE
        static let error: UInt16 = 2  // NLMSG_ERROR
        static let getLink: UInt16 = 18  // RTM_GETLINK
        static let newLink: UInt16 = 16  // RTM_NEWLINK
        static let request: UInt16 = 0x1  // NLM_F_REQUEST
        static let dump: UInt16 = 0x300  // NLM_F_ROOT | NLM_F_MATCH
        static let ifName: UInt16 = 3  // IFLA_IFNAME
        static let stats32: UInt16 = 7  // IFLA_STATS
        static let stats64: UInt16 = 23  // IFLA_STATS64
        static let typeMask: UInt16 = 0x3FFF  // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
        static let flagUp: UInt32 = 0x1  // IFF_UP
        static let flagLoopback: UInt32 = 0x8  // IFF_LOOPBACK
    }

    /// A reader for the caller's own network namespace (the node's interfaces).
    public convenience init() throws {
        let fd = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        if fd < 0 { throw SystemError.current("socket(AF_NETLINK, NETLINK_ROUTE)") }
        try self.init(socket: fd)
    }

    /// A reader whose socket lives in the network namespace at `path` (a bind-mounted nsfs
    /// file such as /run/netns/NAME or /proc/PID/ns/net). Only the socket() call runs inside
    /// that namespace, on this thread, with no suspension point before switching back.
    public static func inNetworkNamespace(_ path: String) throws -> LinkStatsReader {
        let target = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if target < 0 { throw SystemError.current("open(netns)", path: path) }
        defer { _ = Glibc.close(target) }
        let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        if home < 0 { throw SystemError.current("open", path: "/proc/thread-self/ns/net") }
        defer { _ = Glibc.close(home) }

        if clinux_join_netns(target) != 0 { throw SystemError.current("setns(net)", path: path) }
        let fd = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        let socketErrno = Glibc.errno
        if clinux_join_netns(home) != 0 {
            // This thread is shared with the rest of the agent; leaving it in a pod's network
            // namespace would silently misroute everything else scheduled on it.
            fatalError("setns back to the agent's own network namespace failed: \(SystemError.current("setns(net)", path: "/proc/thread-self/ns/net"))")
        }
        if fd < 0 { throw SystemError("socket(AF_NETLINK, NETLINK_ROUTE) in netns", errno: socketErrno, path: path) }
        return try LinkStatsReader(socket: fd)
    }

    private init(socket fd: Int32) throws {
        self.fd = fd
        do {
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            try syscall("setsockopt(SO_RCVTIMEO)") {
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            }
            var local = sockaddr_nl()
            local.nl_family = sa_family_t(AF_NETLINK)
            var length = socklen_t(MemoryLayout<sockaddr_nl>.size)
            try withUnsafeMutablePointer(to: &local) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    try syscall("bind(netlink)") { bind(fd, address, length) }
                    try syscall("getsockname(netlink)") { getsockname(fd, address, &length) }
                }
            }
            portID = local.nl_pid
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Receive buffer size: the kernel fills up to 32 KiB per dump part; twice that leaves room.
    /// Allocated per read rather than kept, because the stats collector keeps one reader per
    /// pod and 64 KiB each was the largest share of the agent's heap with 100 pods.
    private static let receiveBufferSize = 64 * 1024

    deinit {
        _ = Glibc.close(fd)
    }

    /// Every interface in the socket's namespace with its counters.
    public func links() throws -> [InterfaceCounters] {
        sequence &+= 1
        try sendDumpRequest()
        return try withUnsafeTemporaryAllocation(byteCount: Self.receiveBufferSize, alignment: 8) { buffer in
            var result: [InterfaceCounters] = []
            while true {
                let received = try syscallSize("recv(netlink RTM_GETLINK)") { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
                if received == 0 { return result }
                if try parse(UnsafeRawBufferPointer(rebasing: buffer[0..<received]), into: &result) { return result }
            }
        }
    }

    private func sendDumpRequest() throws {
        var request = [UInt8](repeating: 0, count: Wire.headerSize + Wire.ifinfoSize)
        request.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(raw.count), toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: Wire.getLink, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: Wire.request | Wire.dump, toByteOffset: 6, as: UInt16.self)
            raw.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: portID, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: UInt8(AF_UNSPEC), toByteOffset: 16, as: UInt8.self)
        }
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        try request.withUnsafeBytes { raw in
            try withUnsafePointer(to: &kernel) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    _ = try syscallSize("sendto(netlink RTM_GETLINK)") {
                        sendto(fd, raw.baseAddress, raw.count, 0, address, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
    }

    /// Parses one datagram of the dump; true once NLMSG_DONE has been seen.
    private func parse(_ data: UnsafeRawBufferPointer, into result: inout [InterfaceCounters]) throws -> Bool {
        var offset = 0
        while offset + Wire.headerSize <= data.count {
            let length = Int(data.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = data.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let seq = data.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            guard length >= Wire.headerSize, offset + length <= data.count else { return false }
            defer { offset += Self.align(length) }
            guard seq == sequence else { continue }  // a late answer to an earlier request
            switch type {
            case Wire.done:
                return true
            case Wire.error:
                let code = length >= Wire.headerSize + 4
                    ? data.loadUnaligned(fromByteOffset: offset + Wire.headerSize, as: Int32.self) : 0
                if code != 0 { throw SystemError("netlink RTM_GETLINK", errno: -code) }
                return true
            case Wire.newLink:
                if let link = Self.parseLink(UnsafeRawBufferPointer(rebasing: data[(offset + Wire.headerSize)..<(offset + length)])) {
                    result.append(link)
                }
            default:
                continue
            }
        }
        return false
    }

    /// An RTM_NEWLINK payload: struct ifinfomsg followed by attributes.
    static func parseLink(_ payload: UnsafeRawBufferPointer) -> InterfaceCounters? {
        guard payload.count >= Wire.ifinfoSize else { return nil }
        let index = payload.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        let flags = payload.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var link = InterfaceCounters(index: index, name: "", isUp: flags & Wire.flagUp != 0,
                                  isLoopback: flags & Wire.flagLoopback != 0)
        var have64 = false
        var offset = Wire.ifinfoSize
        while offset + 4 <= payload.count {
            let length = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = payload.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & Wire.typeMask
            guard length >= 4, offset + length <= payload.count else { break }
            let value = UnsafeRawBufferPointer(rebasing: payload[(offset + 4)..<(offset + length)])
            switch type {
            case Wire.ifName:
                let bytes = value.prefix { $0 != 0 }
                link.name = String(decoding: bytes, as: UTF8.self)
            case Wire.stats64 where value.count >= 8 * 8:
                have64 = true
                func field(_ i: Int) -> UInt64 { value.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
                link.rxPackets = field(0); link.txPackets = field(1)
                link.rxBytes = field(2); link.txBytes = field(3)
                link.rxErrors = field(4); link.txErrors = field(5)
                link.rxDropped = field(6); link.txDropped = field(7)
            case Wire.stats32 where !have64 && value.count >= 8 * 4:
                func field(_ i: Int) -> UInt64 { UInt64(value.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
                link.rxPackets = field(0); link.txPackets = field(1)
                link.rxBytes = field(2); link.txBytes = field(3)
                link.rxErrors = field(4); link.txErrors = field(5)
                link.rxDropped = field(6); link.txDropped = field(7)
            default:
                break
            }
            offset += align(length)
        }
        return link
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }
}
