import CSystemLibs
import Glibc
import LinuxPrimitives

/// One unicast route with a single next hop, the shape CNI results describe
/// (`dst`, `gw`, `mtu`, `advmss`, `priority`, `table`, `scope`).
public struct RouteEntry: Sendable, Equatable {
    public var destination: IPNetwork
    public var gateway: IPAddress?
    public var interfaceIndex: Int32?
    /// Routing table; 254 is `main`.
    public var table: UInt32 = RouteEntry.mainTable
    /// RT_SCOPE_*: nil lets libnl pick (link for on-link routes, universe via a gateway).
    public var scope: UInt8?
    /// The route's metric (`ip route ... metric N`).
    public var priority: UInt32?
    public var mtu: UInt32?
    public var advmss: UInt32?

    public static let mainTable: UInt32 = 254

    public init(destination: IPNetwork, gateway: IPAddress? = nil, interfaceIndex: Int32? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.interfaceIndex = interfaceIndex
    }

    /// The default route (0.0.0.0/0 or ::/0) of the gateway's family.
    public static func defaultRoute(via gateway: IPAddress, interfaceIndex: Int32? = nil) -> RouteEntry {
        // The prefix length 0 is valid for both widths, so the unwrap cannot fail.
        let any = IPNetwork(address: gateway.isV4 ? .v4Any : .v6Any, prefixLength: 0)!
        return RouteEntry(destination: any, gateway: gateway, interfaceIndex: interfaceIndex)
    }
}

extension RouteSocket {
    /// Adds the route; an identical one already present is `alreadyExists`.
    public func addRoute(_ route: RouteEntry) throws {
        let object = try buildRoute(route)
        defer { rtnl_route_put(object) }
        try nlCheck(rtnl_route_add(handle, object, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWROUTE",
                    object: describe(route))
    }

    /// Removes the route; a missing one is `isNotFound`.
    public func deleteRoute(_ route: RouteEntry) throws {
        let object = try buildRoute(route)
        defer { rtnl_route_put(object) }
        try nlCheck(rtnl_route_delete(handle, object, 0), "RTM_DELROUTE", object: describe(route))
    }

    /// Unicast routes of one family (4 or 6) in `table` (main by default).
    public func routes(version: Int, table: UInt32 = RouteEntry.mainTable) throws -> [RouteEntry] {
        var cache: OpaquePointer? = nil
        let family = version == 4 ? AF_INET : AF_INET6
        try nlCheck(rtnl_route_alloc_cache(handle, family, 0, &cache), "RTM_GETROUTE(dump)")
        guard let cache else { return [] }
        defer { nl_cache_free(cache) }
        var out: [RouteEntry] = []
        forEachObject(in: cache) { object in
            guard rtnl_route_get_table(object) == table, rtnl_route_get_type(object) == UInt8(RTN_UNICAST) else { return }
            let destination: IPNetwork
            if let dst = readNLAddress(rtnl_route_get_dst(object)),
               let network = IPNetwork(address: dst.address, prefixLength: dst.prefixLength) {
                destination = network
            } else {
                // A route without RTA_DST is the default route of its family.
                guard let any = IPNetwork(address: version == 4 ? .v4Any : .v6Any, prefixLength: 0) else { return }
                destination = any
            }
            var entry = RouteEntry(destination: destination)
            entry.table = table
            entry.scope = rtnl_route_get_scope(object)
            entry.priority = rtnl_route_get_priority(object)
            var metric: UInt32 = 0
            if rtnl_route_get_metric(object, Int32(RTAX_MTU), &metric) == 0, metric > 0 { entry.mtu = metric }
            if rtnl_route_get_metric(object, Int32(RTAX_ADVMSS), &metric) == 0, metric > 0 { entry.advmss = metric }
            if rtnl_route_get_nnexthops(object) > 0, let hop = rtnl_route_nexthop_n(object, 0) {
                let ifindex = rtnl_route_nh_get_ifindex(hop)
                entry.interfaceIndex = ifindex > 0 ? ifindex : nil
                entry.gateway = readNLAddress(rtnl_route_nh_get_gateway(hop))?.address
            }
            out.append(entry)
        }
        return out
    }

    private func buildRoute(_ route: RouteEntry) throws -> OpaquePointer {
        guard let object = rtnl_route_alloc() else { throw NetlinkError("rtnl_route_alloc", code: -NLE_NOMEM) }
        do {
            let family = route.destination.address.isV4 ? AF_INET : AF_INET6
            try nlCheck(rtnl_route_set_family(object, UInt8(family)), "rtnl_route_set_family")
            let dst = try makeNLAddress(route.destination.first, prefixLength: route.destination.prefixLength)
            defer { nl_addr_put(dst) }
            try nlCheck(rtnl_route_set_dst(object, dst), "rtnl_route_set_dst", object: route.destination.description)
            rtnl_route_set_table(object, route.table)
            rtnl_route_set_protocol(object, UInt8(RTPROT_BOOT))
            try nlCheck(rtnl_route_set_type(object, UInt8(RTN_UNICAST)), "rtnl_route_set_type")
            if let scope = route.scope { rtnl_route_set_scope(object, scope) }
            if let priority = route.priority { rtnl_route_set_priority(object, priority) }
            if let mtu = route.mtu { try nlCheck(rtnl_route_set_metric(object, Int32(RTAX_MTU), mtu), "rtnl_route_set_metric(mtu)") }
            if let advmss = route.advmss {
                try nlCheck(rtnl_route_set_metric(object, Int32(RTAX_ADVMSS), advmss), "rtnl_route_set_metric(advmss)")
            }
            if route.gateway != nil || route.interfaceIndex != nil {
                guard let hop = rtnl_route_nh_alloc() else { throw NetlinkError("rtnl_route_nh_alloc", code: -NLE_NOMEM) }
                if let index = route.interfaceIndex { rtnl_route_nh_set_ifindex(hop, index) }
                if let gateway = route.gateway {
                    let gw = try makeNLAddress(gateway)
                    rtnl_route_nh_set_gateway(hop, gw)
                    nl_addr_put(gw)
                }
                rtnl_route_add_nexthop(object, hop)  // the route now owns the next hop
            }
            return object
        } catch {
            rtnl_route_put(object)
            throw error
        }
    }

    private func describe(_ route: RouteEntry) -> String {
        var text = route.destination.prefixLength == 0 ? "default" : route.destination.description
        if let gateway = route.gateway { text += " via \(gateway)" }
        if let index = route.interfaceIndex { text += " dev index \(index)" }
        if route.table != RouteEntry.mainTable { text += " table \(route.table)" }
        return text
    }
}
