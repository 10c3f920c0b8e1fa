import CSystemLibs
import Glibc
import LinuxPrimitives

/// One direction of a connection-tracking entry: addresses (4 or 16 bytes), protocol, ports.
public struct ConntrackTuple: Sendable, Hashable, CustomStringConvertible {
    public var source: [UInt8]
    public var destination: [UInt8]
    public var proto: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(source: [UInt8], destination: [UInt8], proto: UInt8, sourcePort: UInt16, destinationPort: UInt16) {
        self.source = source
        self.destination = destination
        self.proto = proto
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    public var description: String {
        func text(_ b: [UInt8]) -> String { b.count == 4 ? b.map(String.init).joined(separator: ".") : b.map { String($0, radix: 16) }.joined(separator: ":") }
        return "\(text(source)):\(sourcePort) -> \(text(destination)):\(destinationPort) proto \(proto)"
    }
}

/// A conntrack entry: the original tuple (as the client sent it, before DNAT) and the reply
/// tuple (as the endpoint answers, so its source is the endpoint a service picked).
public struct ConntrackEntry: Sendable, Hashable {
    public var original: ConntrackTuple
    public var reply: ConntrackTuple
    public var zone: UInt16?
}

/// Which entries to delete, in kube-proxy's terms.
public enum ConntrackFilter: Sendable, Hashable {
    /// Original destination is `address:port` (a service IP whose endpoints appeared).
    case destination(address: [UInt8], port: UInt16)
    /// Original destination `address:port`, answered by `replySource` (a removed endpoint).
    case destinationAndReplySource(address: [UInt8], port: UInt16, replySource: [UInt8])
    /// Original destination port `port` on any address (a NodePort), answered by `replySource`.
    case destinationPortAndReplySource(port: UInt16, replySource: [UInt8])

    public func matches(_ e: ConntrackEntry) -> Bool {
        switch self {
        case .destination(let a, let p):
            return e.original.destination == a && e.original.destinationPort == p
        case .destinationAndReplySource(let a, let p, let r):
            return e.original.destination == a && e.original.destinationPort == p && e.reply.source == r
        case .destinationPortAndReplySource(let p, let r):
            return e.original.destinationPort == p && e.reply.source == r
        }
    }
}

/// The kernel's connection-tracking table over ctnetlink (libmnl): list entries of one
/// family, delete them by tuple. Used to drop UDP flows pinned to endpoints that went away.
public final class ConntrackTable: Sendable {
    let socket: MNLSocket

    /// A client bound to the network namespace at `path` (nil: the caller's).
    public init(networkNamespace path: String? = nil) throws {
        socket = try MNLSocket.open(protocol: NETLINK_NETFILTER, label: "conntrack", in: path)
        socket.exchange { $0.setReceiveBuffer(8 << 20) }
    }

    /// All entries of one family (`AF_INET`/`AF_INET6`) and protocol (nil: all).
    public func entries(ipv6: Bool, proto: UInt8? = nil) throws -> [ConntrackEntry] {
        var out: [ConntrackEntry] = []
        let seq = UInt32(truncatingIfNeeded: time(nil)) &* 2654435761
        let request = buildMessage(type: UInt16(IPCTNL_MSG_CT_GET.rawValue), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP),
                                   seq: seq, family: ipv6 ? UInt8(AF_INET6) : UInt8(AF_INET)) { _ in }
        try socket.exchange { io in
            try request.withUnsafeBytes { try io.send($0) }
            var failure: Int32?
            try receiveAll(io, seq: seq) { message in
                if let info = message.errorInfo {
                    if info.errno != 0 { failure = info.errno }
                    return
                }
                if let entry = Self.parseEntry(message.payload), proto == nil || entry.original.proto == proto {
                    out.append(entry)
                }
            }
            if let failure { throw SystemError("conntrack dump", errno: failure) }
        }
        return out
    }

    /// Deletes every entry matching any filter among the entries of `proto`; returns how many
    /// were deleted (entries that vanished meanwhile are not errors).
    @discardableResult
    public func delete(matching filters: [ConntrackFilter], ipv6: Bool, proto: UInt8) throws -> Int {
        guard !filters.isEmpty else { return 0 }
        var deleted = 0
        for entry in try entries(ipv6: ipv6, proto: proto) where filters.contains(where: { $0.matches(entry) }) {
            if try delete(entry) { deleted += 1 }
        }
        return deleted
    }

    /// Deletes one entry by its original tuple; false when it no longer exists.
    @discardableResult
    public func delete(_ entry: ConntrackEntry) throws -> Bool {
        let ipv6 = entry.original.source.count == 16
        let seq = UInt32(truncatingIfNeeded: time(nil)) &* 40503 &+ UInt32(entry.original.sourcePort)
        let request = buildMessage(type: UInt16(IPCTNL_MSG_CT_DELETE.rawValue), flags: UInt16(NLM_F_REQUEST | NLM_F_ACK),
                                   seq: seq, family: ipv6 ? UInt8(AF_INET6) : UInt8(AF_INET)) { nlh in
            Self.putTuple(nlh, UInt16(CTA_TUPLE_ORIG.rawValue), entry.original)
            if let zone = entry.zone { mnl_attr_put_u16(nlh, UInt16(CTA_ZONE.rawValue), zone.bigEndian) }
        }
        return try socket.exchange { io in
            try request.withUnsafeBytes { try io.send($0) }
            var result: Int32 = 0
            try receiveAll(io, seq: seq) { message in
                if let info = message.errorInfo { result = info.errno }
            }
            if result == ENOENT { return false }
            if result != 0 { throw SystemError("conntrack delete \(entry.original)", errno: result) }
            return true
        }
    }

    private func buildMessage(type: UInt16, flags: UInt16, seq: UInt32, family: UInt8,
                              _ body: (UnsafeMutablePointer<nlmsghdr>) -> Void) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            nlh.pointee.nlmsg_type = UInt16(NFNL_SUBSYS_CTNETLINK << 8) | type
            nlh.pointee.nlmsg_flags = flags
            nlh.pointee.nlmsg_seq = seq
            let extra = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size)!.assumingMemoryBound(to: nfgenmsg.self)
            extra.pointee.nfgen_family = family
            extra.pointee.version = UInt8(NFNETLINK_V0)
            extra.pointee.res_id = 0
            body(nlh)
            return Int(nlh.pointee.nlmsg_len)
        }
        return Array(buffer[0..<length])
    }

    private static func putTuple(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ type: UInt16, _ t: ConntrackTuple) {
        let tuple = mnl_attr_nest_start(nlh, type)
        let ip = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_IP.rawValue))
        let v6 = t.source.count == 16
        t.source.withUnsafeBytes { mnl_attr_put(nlh, UInt16(v6 ? CTA_IP_V6_SRC.rawValue : CTA_IP_V4_SRC.rawValue), $0.count, $0.baseAddress) }
        t.destination.withUnsafeBytes { mnl_attr_put(nlh, UInt16(v6 ? CTA_IP_V6_DST.rawValue : CTA_IP_V4_DST.rawValue), $0.count, $0.baseAddress) }
        mnl_attr_nest_end(nlh, ip)
        let proto = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_PROTO.rawValue))
        mnl_attr_put_u8(nlh, UInt16(CTA_PROTO_NUM.rawValue), t.proto)
        mnl_attr_put_u16(nlh, UInt16(CTA_PROTO_SRC_PORT.rawValue), t.sourcePort.bigEndian)
        mnl_attr_put_u16(nlh, UInt16(CTA_PROTO_DST_PORT.rawValue), t.destinationPort.bigEndian)
        mnl_attr_nest_end(nlh, proto)
        mnl_attr_nest_end(nlh, tuple)
    }

    private func receiveAll(_ io: MNLSocket.Exchange, seq: UInt32, _ handle: (NetlinkMessage) -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try io.receive(into: buffer)
            var done = false
            for message in NetlinkMessage.split(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) where message.sequence == seq {
                if message.isDone || message.isError { done = true }
                if !message.isDone { handle(message) }
            }
            if done { return }
        }
    }

    /// Netlink attributes (type, payload) of a buffer, nested flag stripped.
    static func attributes(_ bytes: UnsafeRawBufferPointer) -> [(UInt16, UnsafeRawBufferPointer)] {
        var out: [(UInt16, UnsafeRawBufferPointer)] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let len = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
            guard len >= 4, offset + len <= bytes.count else { break }
            out.append((type, UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + len)])))
            offset += (len + 3) & ~3
        }
        return out
    }

    static func parseTuple(_ bytes: UnsafeRawBufferPointer) -> ConntrackTuple? {
        var t = ConntrackTuple(source: [], destination: [], proto: 0, sourcePort: 0, destinationPort: 0)
        for (type, payload) in attributes(bytes) {
            if type == UInt16(CTA_TUPLE_IP.rawValue) {
                for (ipType, value) in attributes(payload) {
                    switch ipType {
                    case UInt16(CTA_IP_V4_SRC.rawValue), UInt16(CTA_IP_V6_SRC.rawValue): t.source = Array(value)
                    case UInt16(CTA_IP_V4_DST.rawValue), UInt16(CTA_IP_V6_DST.rawValue): t.destination = Array(value)
                    default: break
                    }
                }
            } else if type == UInt16(CTA_TUPLE_PROTO.rawValue) {
                for (protoType, value) in attributes(payload) {
                    switch protoType {
                    case UInt16(CTA_PROTO_NUM.rawValue) where value.count >= 1: t.proto = value[0]
                    case UInt16(CTA_PROTO_SRC_PORT.rawValue) where value.count >= 2:
                        t.sourcePort = UInt16(value[0]) << 8 | UInt16(value[1])
                    case UInt16(CTA_PROTO_DST_PORT.rawValue) where value.count >= 2:
                        t.destinationPort = UInt16(value[0]) << 8 | UInt16(value[1])
                    default: break
                    }
                }
            }
        }
        return t.source.isEmpty || t.destination.isEmpty ? nil : t
    }

    static func parseEntry(_ payload: UnsafeRawBufferPointer) -> ConntrackEntry? {
        guard payload.count > 4 else { return nil }
        var original: ConntrackTuple?, reply: ConntrackTuple?, zone: UInt16?
        for (type, value) in attributes(UnsafeRawBufferPointer(rebasing: payload[4...])) {
            switch type {
            case UInt16(CTA_TUPLE_ORIG.rawValue): original = parseTuple(value)
            case UInt16(CTA_TUPLE_REPLY.rawValue): reply = parseTuple(value)
            case UInt16(CTA_ZONE.rawValue) where value.count >= 2: zone = UInt16(value[0]) << 8 | UInt16(value[1])
            default: break
            }
        }
        guard let original, let reply else { return nil }
        return ConntrackEntry(original: original, reply: reply, zone: zone)
    }
}
