import CSystemLibs
import Glibc
import LinuxPrimitives

/// The addresses configured on this network namespace's interfaces (RTM_GETADDR dump over
/// libmnl): what NodePorts listen on when `--nodeport-addresses` narrows them to some CIDRs.
public final class InterfaceAddressList: Sendable {
    public struct Entry: Sendable, Hashable {
        public let interfaceIndex: UInt32
        /// 4 or 16 bytes.
        public let address: [UInt8]
        public let prefixLength: UInt8
    }

    let socket: MNLSocket

    public init(networkNamespace path: String? = nil) throws {
        socket = try MNLSocket.open(protocol: NETLINK_ROUTE, label: "route", in: path)
    }

    /// Every IPv4 and IPv6 address of every interface.
    public func addresses() throws -> [Entry] {
        var out: [Entry] = []
        let seq = UInt32(truncatingIfNeeded: time(nil)) &* 2246822519
        var request = [UInt8](repeating: 0, count: 64)
        let length = request.withUnsafeMutableBytes { raw -> Int in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            nlh.pointee.nlmsg_type = UInt16(RTM_GETADDR)
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
            nlh.pointee.nlmsg_seq = seq
            let ifa = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<ifaddrmsg>.size)!.assumingMemoryBound(to: ifaddrmsg.self)
            ifa.pointee.ifa_family = UInt8(AF_UNSPEC)
            return Int(nlh.pointee.nlmsg_len)
        }
        try socket.exchange { io in
            try request.withUnsafeBytes { try io.send(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            var done = false
            while !done {
                let n = try io.receive(into: buffer)
                for message in NetlinkMessage.split(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) where message.sequence == seq {
                    if message.isDone { done = true; continue }
                    if let info = message.errorInfo {
                        done = true
                        if info.errno != 0 { throw SystemError("RTM_GETADDR dump", errno: info.errno) }
                        continue
                    }
                    guard message.type == UInt16(RTM_NEWADDR), message.payload.count >= 8 else { continue }
                    let prefix = message.payload[1]
                    let index = message.payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                    var local: [UInt8]?, address: [UInt8]?
                    for (type, value) in ConntrackTable.attributes(UnsafeRawBufferPointer(rebasing: message.payload[8...])) {
                        if type == UInt16(IFA_LOCAL) { local = Array(value) }
                        if type == UInt16(IFA_ADDRESS) { address = Array(value) }
                    }
                    if let a = local ?? address, a.count == 4 || a.count == 16 {
                        out.append(Entry(interfaceIndex: index, address: a, prefixLength: prefix))
                    }
                }
            }
        }
        return out
    }
}
