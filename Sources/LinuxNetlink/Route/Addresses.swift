import CSystemLibs
import Glibc
import LinuxPrimitives

/// One interface address as the kernel reports it.
public struct AddressInfo: Sendable, Equatable {
    public var interfaceIndex: Int32
    /// Address and prefix length, e.g. 10.88.0.5/16.
    public var network: IPNetwork
    public var scope: Int32
    public var label: String?
}

extension RouteSocket {
    /// Adds `network` (address + prefix length) to the interface. For IPv4 the broadcast
    /// address is set to the subnet's last address, as `ip addr add ... brd +` would.
    /// An address already present is an error (`alreadyExists`), which callers may accept.
    public func addAddress(index: Int32, _ network: IPNetwork) throws {
        try addressRequest(index: index, network, add: true)
    }

    /// Removes the address; a missing one is reported as `isNotFound`.
    public func deleteAddress(index: Int32, _ network: IPNetwork) throws {
        try addressRequest(index: index, network, add: false)
    }

    /// Addresses in this namespace, optionally of one interface and one family (4 or 6).
    public func addresses(index: Int32? = nil, version: Int? = nil) throws -> [AddressInfo] {
        var cache: OpaquePointer? = nil
        try nlCheck(rtnl_addr_alloc_cache(handle, &cache), "RTM_GETADDR(dump)")
        guard let cache else { return [] }
        defer { nl_cache_free(cache) }
        var out: [AddressInfo] = []
        forEachObject(in: cache) { object in
            let ifindex = rtnl_addr_get_ifindex(object)
            if let index, ifindex != index { return }
            guard let local = readNLAddress(rtnl_addr_get_local(object)) else { return }
            if let version, local.address.version != version { return }
            let prefix = Int(rtnl_addr_get_prefixlen(object))
            guard let network = IPNetwork(address: local.address, prefixLength: prefix) else { return }
            let label = rtnl_addr_get_label(object).map { String(cString: $0) }
            out.append(AddressInfo(interfaceIndex: ifindex, network: network,
                                   scope: rtnl_addr_get_scope(object), label: label))
        }
        return out
    }

    private func addressRequest(index: Int32, _ network: IPNetwork, add: Bool) throws {
        guard let addr = rtnl_addr_alloc() else { throw NetlinkError("rtnl_addr_alloc", code: -NLE_NOMEM) }
        defer { rtnl_addr_put(addr) }
        rtnl_addr_set_ifindex(addr, index)
        let local = try makeNLAddress(network.address, prefixLength: network.prefixLength)
        defer { nl_addr_put(local) }
        let operation = add ? "RTM_NEWADDR" : "RTM_DELADDR"
        try nlCheck(rtnl_addr_set_local(addr, local), "\(operation)(local)", object: network.description)
        rtnl_addr_set_prefixlen(addr, Int32(network.prefixLength))
        if add, network.address.isV4, network.prefixLength < 31 {
            let broadcast = try makeNLAddress(network.last)
            defer { nl_addr_put(broadcast) }
            try nlCheck(rtnl_addr_set_broadcast(addr, broadcast), "\(operation)(broadcast)", object: network.description)
        }
        if add {
            try nlCheck(rtnl_addr_add(handle, addr, NLM_F_CREATE | NLM_F_EXCL), operation,
                        object: "\(network) dev index \(index)")
        } else {
            try nlCheck(rtnl_addr_delete(handle, addr, 0), operation, object: "\(network) dev index \(index)")
        }
    }
}
