import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives

/// `swiftlet-bridge`: a Linux bridge on the host, one veth pair per attachment with the pod
/// end created directly inside the pod's namespace, addresses from the delegated IPAM plugin,
/// and optionally the bridge as the pods' gateway. Everything through rtnetlink.
public struct BridgePlugin: CNIPlugin {
    public init() {}

    /// Indexes of the three interfaces in our result.
    static let bridgeInterface = 0, hostInterface = 1, containerInterface = 2

    public func add(_ request: PluginRequest) throws -> CNIResult {
        let config = try BridgeConfig(config: request.config)
        let podNamespace = try openNamespace(request.netns)
        defer { podNamespace.close() }
        let host = try RouteSocket()
        let pod = try RouteSocket.inNamespace(request.netns)
        if try pod.link(named: request.ifname) != nil {
            throw CNIError.generic("container interface \"\(request.ifname)\" already exists in \(request.netns)")
        }
        let bridge = try ensureBridge(host, config)

        var result = CNIResult(cniVersion: request.cniVersion)
        var ipamAllocated = false
        var hostName: String? = nil
        // Set when this ADD committed an nftables change: the client then stays open to the
        // end and its close (a kernel wait) is left to the Afterlife (a child process, or a thread in process).
        var firewall: NFTables? = nil
        do {
            // Addresses first, and the masquerade rule with them, so the rest of ADD runs
            // while the kernel settles the nftables transaction.
            if let ipamType = config.ipamType {
                let allocation = try IPAM.add(ipamType, request)
                ipamAllocated = true
                result.ips = allocation.ips.map { ip in
                    var ip = ip
                    ip.interface = BridgePlugin.containerInterface
                    return ip
                }
                guard !result.ips.isEmpty else { throw CNIError.generic("IPAM plugin \(ipamType) returned no IP configuration") }
                result.routes = allocation.routes
                if config.isDefaultGateway {
                    for ip in result.ips {
                        guard let gateway = ip.gateway else { continue }
                        let any = IPNetwork(address: gateway.isV4 ? .v4Any : .v6Any, prefixLength: 0)
                        if let any, !result.routes.contains(where: { $0.dst == any }) {
                            result.routes.append(CNIResult.Route(dst: any, gw: gateway))
                        }
                    }
                }
                result.dns = allocation.dns.isEmpty ? (config.dns ?? allocation.dns) : allocation.dns
                if config.ipMasq {
                    let nft = try Masquerade.client()
                    if try Masquerade.ensure(nft, network: request.networkName, subnets: result.ips.map(\.address)) { firewall = nft }
                }
            }

            let name = "veth" + RandomBytes.hex(8)
            try host.createVethPair(name: name, peerName: request.ifname, peerNamespace: podNamespace, mtu: config.mtu)
            hostName = name
            let hostVeth = try host.requireLink(named: name)
            try host.setMaster(index: hostVeth.index, master: bridge.index)
            if config.hairpinMode { try host.setHairpin(index: hostVeth.index, true) }
            try host.setUp(index: hostVeth.index)
            let container = try pod.requireLink(named: request.ifname)
            result.interfaces = [
                .init(name: bridge.name, mac: bridge.mac?.description),
                .init(name: name, mac: hostVeth.mac?.description),
                .init(name: request.ifname, mac: container.mac?.description, sandbox: request.netns),
            ]
            if config.ipamType != nil {
                try configureContainer(pod, index: container.index, request: request, result: result)
                if config.isGateway { try configureGateway(host, bridge: bridge, result: result, config: config) }
            } else {
                try pod.setUp(index: container.index)
            }
            if let kept = firewall {
                firewall = nil
                request.afterlife.hand(keeping: consume kept)
            }
            return result
        } catch {
            // Leave nothing behind: the pod end goes with the host end.
            if let hostName { _ = try? host.deleteLink(named: hostName) }
            if ipamAllocated, let ipamType = config.ipamType { try? IPAM.run(ipamType, .del, request) }
            throw error
        }
    }

    public func del(_ request: PluginRequest) throws {
        let config = try BridgeConfig(config: request.config)
        // IPAM first and regardless of the namespace: the address must be released even when
        // the pod's namespace is already gone. Its error is reported after our own cleanup.
        var ipamError: (any Error)? = nil
        if let ipamType = config.ipamType {
            do { try IPAM.run(ipamType, .del, request) } catch { ipamError = error }
        }
        // The masquerade rule belongs to the network, not to this attachment (GC removes it).
        if !request.netns.isEmpty, NetworkNamespace.exists(request.netns) {
            let pod = try RouteSocket.inNamespace(request.netns)
            if let link = try pod.link(named: request.ifname) {
                try retire(pod, link, request)
            }
        }
        if let ipamError { throw ipamError }
    }

    /// Removes the pod's interface (and with it the host end). Deleting a device waits for
    /// the kernel (an RCU grace period), so the interface is first taken out of service here:
    /// down, renamed out of the way of a new ADD, without addresses, off the bridge. The
    /// deletion itself is left to the Afterlife (a child process, or a thread in process).
    func retire(_ pod: RouteSocket, _ link: LinkInfo, _ request: PluginRequest) throws {
        do {
            try pod.setDown(index: link.index)
            for address in try pod.addresses(index: link.index) where address.scope == 0 {
                try? pod.deleteAddress(index: link.index, address.network)
            }
            try pod.rename(index: link.index, to: "gone" + RandomBytes.hex(8))
        } catch {
            // Could not park it: delete it here and wait like anyone else.
            try pod.deleteLink(index: link.index)
            return
        }
        request.afterlife.hand {
            try? pod.deleteLink(index: link.index)
        }
    }

    public func check(_ request: PluginRequest) throws {
        let config = try BridgeConfig(config: request.config)
        guard let previous = request.prevResult else { throw CNIError.config("CHECK needs prevResult") }
        let host = try RouteSocket()
        guard let bridge = try host.link(named: config.bridge), bridge.kind == "bridge" else {
            throw CNIError.generic("bridge \(config.bridge) is missing")
        }
        guard NetworkNamespace.exists(request.netns) else {
            throw CNIError(code: CNIError.containerUnknown, msg: "network namespace \(request.netns) does not exist")
        }
        let pod = try RouteSocket.inNamespace(request.netns)
        guard let container = try pod.link(named: request.ifname) else {
            throw CNIError.generic("interface \(request.ifname) is missing from \(request.netns)")
        }
        guard container.isUp else { throw CNIError.generic("interface \(request.ifname) in \(request.netns) is down") }
        if let expected = previous.interfaces.first(where: { $0.name == request.ifname && $0.sandbox != nil })?.mac,
           let mac = container.mac, MACAddress(expected) != mac {
            throw CNIError.generic("interface \(request.ifname) has MAC \(mac), prevResult says \(expected)")
        }
        // The host end is the container end's peer; it must still sit on our bridge.
        if let peerIndex = container.parentIndex {
            guard let peer = try host.link(index: peerIndex), peer.masterIndex == bridge.index else {
                throw CNIError.generic("the host end of \(request.ifname) is not attached to bridge \(config.bridge)")
            }
        }
        let present = Set(try pod.addresses(index: container.index).map(\.network))
        for ip in previous.ips where ip.interface.map({ $0 < previous.interfaces.count && previous.interfaces[$0].sandbox != nil }) ?? true {
            guard present.contains(ip.address) else {
                throw CNIError.generic("address \(ip.address) is missing from \(request.ifname) in \(request.netns)")
            }
        }
        if config.ipMasq {
            try Masquerade.check(try Masquerade.client(), network: request.networkName, subnets: previous.ips.map(\.address))
        }
        if let ipamType = config.ipamType { try IPAM.run(ipamType, .check, request) }
    }

    public func status(_ request: PluginRequest) throws {
        let config = try BridgeConfig(config: request.config)
        if let ipamType = config.ipamType { try IPAM.run(ipamType, .status, request) }
    }

    public func gc(_ request: PluginRequest) throws {
        let config = try BridgeConfig(config: request.config)
        // With no valid attachment left, the network's masquerade rule goes too.
        if config.ipMasq, try validAttachments(request).isEmpty {
            try Masquerade.remove(try Masquerade.client(), network: request.networkName)
        }
        if let ipamType = config.ipamType { try IPAM.run(ipamType, .gc, request) }
    }

    // MARK: steps

    func openNamespace(_ path: String) throws -> FileDescriptor {
        guard NetworkNamespace.exists(path) else {
            throw CNIError(code: CNIError.containerUnknown, msg: "network namespace \(path) does not exist")
        }
        do {
            return try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw CNIError(code: CNIError.containerUnknown, msg: "cannot open network namespace \(path)", details: "\(error)")
        }
    }

    /// The bridge, created (with a fixed MAC) when missing; a concurrent ADD that created it
    /// first is fine. A non-bridge device with the name is an error.
    func ensureBridge(_ host: RouteSocket, _ config: BridgeConfig) throws -> LinkInfo {
        var link = try host.link(named: config.bridge)
        if link == nil {
            do {
                try host.createBridge(name: config.bridge, mtu: config.mtu, mac: .randomLocal())
            } catch let error as NetlinkError where error.alreadyExists {
                // Another plugin run created it between our lookup and our request.
            }
            link = try host.link(named: config.bridge)
        }
        guard let bridge = link else { throw CNIError.generic("bridge \(config.bridge) vanished while being set up") }
        guard bridge.kind == "bridge" else {
            throw CNIError.config("\(config.bridge) already exists and is a \(bridge.kind ?? "non-bridge") device, not a bridge")
        }
        if !bridge.isUp { try host.setUp(index: bridge.index) }
        return bridge
    }

    /// Addresses and routes inside the pod. IPv6 duplicate address detection is turned off
    /// on the fresh veth (its peer cannot collide) so the address is usable at once.
    func configureContainer(_ pod: RouteSocket, index: Int32, request: PluginRequest, result: CNIResult) throws {
        if result.ips.contains(where: { !$0.address.address.isV4 }) {
            try? NetworkNamespace.run(request.netns) {
                try Sysctl.write("net/ipv6/conf/\(request.ifname)/accept_dad", "0")
            }
        }
        for ip in result.ips {
            do {
                try pod.addAddress(index: index, ip.address)
            } catch let error as NetlinkError where error.alreadyExists {
            }
        }
        try pod.setUp(index: index)
        for route in result.routes {
            let gateway = route.gw ?? result.ips.first { $0.address.address.isV4 == route.dst.address.isV4 }?.gateway
            var entry = RouteEntry(destination: route.dst.network, gateway: gateway, interfaceIndex: index)
            if let mtu = route.mtu { entry.mtu = UInt32(mtu) }
            if let advmss = route.advmss { entry.advmss = UInt32(advmss) }
            if let priority = route.priority { entry.priority = UInt32(priority) }
            if let table = route.table { entry.table = UInt32(table) }
            if let scope = route.scope { entry.scope = UInt8(truncatingIfNeeded: scope) }
            do {
                try pod.addRoute(entry)
            } catch let error as NetlinkError where error.alreadyExists {
            }
        }
    }

    /// Puts each gateway address on the bridge (prefix of the pod's subnet) and turns on
    /// forwarding for the families in use: the bridge is then the pods' router.
    func configureGateway(_ host: RouteSocket, bridge: LinkInfo, result: CNIResult, config: BridgeConfig) throws {
        let existing = try host.addresses(index: bridge.index)
        for ip in result.ips {
            guard let gateway = ip.gateway, let wanted = IPNetwork(address: gateway, prefixLength: ip.address.prefixLength) else { continue }
            if existing.contains(where: { $0.network == wanted }) { continue }
            let conflicting = existing.filter { $0.network.address.isV4 == gateway.isV4 && $0.network.overlaps(wanted) && $0.scope == 0 }
            if !conflicting.isEmpty {
                guard config.forceAddress else {
                    throw CNIError.generic("bridge \(bridge.name) has address \(conflicting[0].network), not the gateway \(wanted) (set forceAddress to replace it)")
                }
                for old in conflicting { try? host.deleteAddress(index: bridge.index, old.network) }
            }
            do {
                try host.addAddress(index: bridge.index, wanted)
            } catch let error as NetlinkError where error.alreadyExists {
            }
        }
        if result.ips.contains(where: { $0.address.address.isV4 }) { try Sysctl.ensure("net.ipv4.ip_forward", "1") }
        if result.ips.contains(where: { !$0.address.address.isV4 }) { try Sysctl.ensure("net.ipv6.conf.all.forwarding", "1") }
    }

    func validAttachments(_ request: PluginRequest) throws -> [(String, String)] {
        try HostLocalPlugin().validAttachments(request)
    }
}
