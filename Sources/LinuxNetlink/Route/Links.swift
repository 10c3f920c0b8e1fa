import CSystemLibs
import Glibc
import LinuxPrimitives

/// What the kernel reports about one network interface, copied out of libnl's object.
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// The rtnetlink kind (`veth`, `bridge`, ...), nil for devices without one (lo, physical).
    public var kind: String?
    public var mtu: UInt32
    public var mac: MACAddress?
    public var flags: UInt32
    /// The bridge (or bond) this link is enslaved to.
    public var masterIndex: Int32?
    /// IFLA_LINK: for a veth, the peer's index (in the peer's namespace).
    public var parentIndex: Int32?
    public var statistics: LinkStatistics

    public var isUp: Bool { flags & UInt32(IFF_UP) != 0 }
}

/// Interface counters from IFLA_STATS64 (libnl prefers the 64-bit block when the kernel sends
/// it, which every kernel we support does), so they do not wrap at 4 GiB.
public struct LinkStatistics: Sendable, Equatable {
    public var rxBytes: UInt64 = 0
    public var txBytes: UInt64 = 0
    public var rxPackets: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var rxErrors: UInt64 = 0
    public var txErrors: UInt64 = 0
    public var rxDropped: UInt64 = 0
    public var txDropped: UInt64 = 0
    public var multicast: UInt64 = 0

    public init() {}
}

extension LinkInfo {
    init(_ link: OpaquePointer) {
        index = rtnl_link_get_ifindex(link)
        name = rtnl_link_get_name(link).map { String(cString: $0) } ?? ""
        kind = rtnl_link_get_type(link).map { String(cString: $0) }
        mtu = rtnl_link_get_mtu(link)
        mac = readNLMAC(rtnl_link_get_addr(link))
        flags = rtnl_link_get_flags(link)
        let master = rtnl_link_get_master(link)
        masterIndex = master > 0 ? master : nil
        let parent = rtnl_link_get_link(link)
        parentIndex = parent > 0 ? parent : nil
        var stats = LinkStatistics()
        stats.rxBytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES)
        stats.txBytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES)
        stats.rxPackets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS)
        stats.txPackets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS)
        stats.rxErrors = rtnl_link_get_stat(link, RTNL_LINK_RX_ERRORS)
        stats.txErrors = rtnl_link_get_stat(link, RTNL_LINK_TX_ERRORS)
        stats.rxDropped = rtnl_link_get_stat(link, RTNL_LINK_RX_DROPPED)
        stats.txDropped = rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED)
        stats.multicast = rtnl_link_get_stat(link, RTNL_LINK_MULTICAST)
        statistics = stats
    }
}

extension RouteSocket {
    // MARK: queries

    /// The link called `name`, or nil when there is none.
    public func link(named name: String) throws -> LinkInfo? {
        try fetchLink(index: 0, name: name)
    }

    /// The link with interface index `index`, or nil when there is none.
    public func link(index: Int32) throws -> LinkInfo? {
        try fetchLink(index: index, name: nil)
    }

    /// Every link in this socket's namespace.
    public func links() throws -> [LinkInfo] {
        var cache: OpaquePointer? = nil
        try nlCheck(rtnl_link_alloc_cache(handle, AF_UNSPEC, &cache), "RTM_GETLINK(dump)")
        guard let cache else { return [] }
        defer { nl_cache_free(cache) }
        var out: [LinkInfo] = []
        forEachObject(in: cache) { out.append(LinkInfo($0)) }
        return out
    }

    /// The link called `name`; a missing link is an error that names it.
    public func requireLink(named name: String) throws -> LinkInfo {
        guard let link = try link(named: name) else {
            throw NetlinkError("RTM_GETLINK", object: name, code: -NLE_OBJ_NOTFOUND)
        }
        return link
    }

    private func fetchLink(index: Int32, name: String?) throws -> LinkInfo? {
        var result: OpaquePointer? = nil
        let rc = rtnl_link_get_kernel(handle, index, name, &result)
        if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV { return nil }
        try nlCheck(rc, "RTM_GETLINK", object: name ?? "index \(index)")
        guard let result else { return nil }
        defer { rtnl_link_put(result) }
        return LinkInfo(result)
    }

    // MARK: creation

    /// Creates a veth pair: `name` here and `peerName` placed directly into the namespace open
    /// at `peerNamespace` (one RTM_NEWLINK, so no moment exists where both ends sit on the host
    /// and no rename races a name already taken in the pod). MTU applies to both ends.
    public func createVethPair(name: String, peerName: String, peerNamespace: FileDescriptor? = nil,
                               mtu: UInt32? = nil, peerMAC: MACAddress? = nil) throws {
        guard let link = rtnl_link_veth_alloc() else {
            throw NetlinkError("rtnl_link_veth_alloc", object: name, code: -NLE_NOMEM)
        }
        defer { rtnl_link_put(link) }
        guard let peer = rtnl_link_veth_get_peer(link) else {
            throw NetlinkError("rtnl_link_veth_get_peer", object: name, code: -NLE_NOMEM)
        }
        defer { rtnl_link_put(peer) }
        rtnl_link_set_name(link, name)
        rtnl_link_set_name(peer, peerName)
        if let mtu {
            rtnl_link_set_mtu(link, mtu)
            rtnl_link_set_mtu(peer, mtu)
        }
        if let peerMAC {
            let nl = try makeNLAddress(mac: peerMAC)
            defer { nl_addr_put(nl) }
            rtnl_link_set_addr(peer, nl)
        }
        if let peerNamespace { rtnl_link_set_ns_fd(peer, peerNamespace.rawValue) }
        try nlCheck(rtnl_link_add(handle, link, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWLINK(veth)",
                    object: "\(name) <-> \(peerName)")
    }

    /// Creates a bridge. A fixed MAC keeps the bridge's address from following whichever port
    /// has the lowest MAC (which changes as pods come and go and breaks pods' ARP caches).
    public func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil) throws {
        guard let link = rtnl_link_alloc() else {
            throw NetlinkError("rtnl_link_alloc", object: name, code: -NLE_NOMEM)
        }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        try nlCheck(rtnl_link_set_type(link, "bridge"), "rtnl_link_set_type(bridge)", object: name)
        if let mtu { rtnl_link_set_mtu(link, mtu) }
        if let mac {
            let nl = try makeNLAddress(mac: mac)
            defer { nl_addr_put(nl) }
            rtnl_link_set_addr(link, nl)
        }
        try nlCheck(rtnl_link_add(handle, link, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWLINK(bridge)", object: name)
    }

    // MARK: changes

    public func setUp(index: Int32) throws {
        try change(index: index, operation: "RTM_SETLINK(up)") { rtnl_link_set_flags($0, UInt32(IFF_UP)) }
    }

    public func setDown(index: Int32) throws {
        try change(index: index, operation: "RTM_SETLINK(down)") { rtnl_link_unset_flags($0, UInt32(IFF_UP)) }
    }

    public func setMTU(index: Int32, _ mtu: UInt32) throws {
        try change(index: index, operation: "RTM_SETLINK(mtu \(mtu))") { rtnl_link_set_mtu($0, mtu) }
    }

    public func setMAC(index: Int32, _ mac: MACAddress) throws {
        let nl = try makeNLAddress(mac: mac)
        defer { nl_addr_put(nl) }
        try change(index: index, operation: "RTM_SETLINK(address \(mac))") { rtnl_link_set_addr($0, nl) }
    }

    /// Enslaves the link to a bridge (`master`), or frees it with `master: nil`.
    public func setMaster(index: Int32, master: Int32?) throws {
        try change(index: index, operation: "RTM_SETLINK(master \(master ?? 0))") {
            rtnl_link_set_master($0, master ?? 0)
        }
    }

    /// Moves the link into the network namespace open at `namespace`.
    public func moveToNamespace(index: Int32, _ namespace: FileDescriptor) throws {
        try change(index: index, operation: "RTM_SETLINK(netns)") { rtnl_link_set_ns_fd($0, namespace.rawValue) }
    }

    public func rename(index: Int32, to name: String) throws {
        try change(index: index, operation: "RTM_SETLINK(name \(name))") { rtnl_link_set_name($0, name) }
    }

    /// Sets the bridge-port hairpin flag (IFLA_BRPORT_MODE), which lets a pod reach itself
    /// through a Service address: the bridge may then send a frame back out the port it came
    /// in on. Sent as RTM_SETLINK in the AF_BRIDGE family, the only form the kernel accepts.
    public func setHairpin(index: Int32, _ on: Bool) throws {
        try request(type: Int32(RTM_SETLINK), flags: 0, operation: "RTM_SETLINK(AF_BRIDGE hairpin)", object: "index \(index)") { message in
            var header = ifinfomsg()
            header.ifi_family = UInt8(AF_BRIDGE)
            header.ifi_index = index
            try nlCheck(nlmsg_append(message, &header, MemoryLayout<ifinfomsg>.size, Int32(NLMSG_ALIGNTO)),
                        "nlmsg_append(ifinfomsg)")
            guard let nest = nla_nest_start(message, Int32(IFLA_PROTINFO) | Int32(NLA_F_NESTED)) else {
                throw NetlinkError("nla_nest_start(IFLA_PROTINFO)", code: -NLE_NOMEM)
            }
            try nlCheck(nla_put_u8(message, Int32(IFLA_BRPORT_MODE), on ? 1 : 0), "nla_put(IFLA_BRPORT_MODE)")
            try nlCheck(nla_nest_end(message, nest), "nla_nest_end(IFLA_PROTINFO)")
        }
    }

    /// Reads the hairpin flag back (from the AF_BRIDGE link dump).
    public func hairpin(index: Int32) throws -> Bool? {
        var cache: OpaquePointer? = nil
        try nlCheck(rtnl_link_alloc_cache(handle, AF_BRIDGE, &cache), "RTM_GETLINK(AF_BRIDGE dump)")
        guard let cache else { return nil }
        defer { nl_cache_free(cache) }
        var result: Bool? = nil
        forEachObject(in: cache) { object in
            if rtnl_link_get_ifindex(object) == index, rtnl_link_bridge_has_ext_info(object) >= 0 {
                let flags = rtnl_link_bridge_get_flags(object)
                if flags >= 0 { result = flags & Int32(RTNL_BRIDGE_HAIRPIN_MODE.rawValue) != 0 }
            }
        }
        return result
    }

    // MARK: deletion

    /// Deletes the link; for a veth this removes both ends.
    public func deleteLink(index: Int32) throws {
        guard let link = rtnl_link_alloc() else { throw NetlinkError("rtnl_link_alloc", code: -NLE_NOMEM) }
        defer { rtnl_link_put(link) }
        rtnl_link_set_ifindex(link, index)
        try nlCheck(rtnl_link_delete(handle, link), "RTM_DELLINK", object: "index \(index)")
    }

    /// Deletes the link called `name` if it exists; returns whether it did. Idempotent, as
    /// every teardown path must be.
    @discardableResult
    public func deleteLink(named name: String) throws -> Bool {
        guard let link = try link(named: name) else { return false }
        do {
            try deleteLink(index: link.index)
        } catch let error as NetlinkError where error.isNotFound {
            return false
        }
        return true
    }

    private func change(index: Int32, operation: String, _ apply: (OpaquePointer) throws -> Void) throws {
        guard let original = rtnl_link_alloc(), let changes = rtnl_link_alloc() else {
            throw NetlinkError("rtnl_link_alloc", code: -NLE_NOMEM)
        }
        defer {
            rtnl_link_put(original)
            rtnl_link_put(changes)
        }
        rtnl_link_set_ifindex(original, index)
        try apply(changes)
        try nlCheck(rtnl_link_change(handle, original, changes, 0), operation, object: "index \(index)")
    }
}
