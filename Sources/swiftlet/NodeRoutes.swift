import KubeAPI
import KubeClient
import LinuxNetlink
import Logging

/// Routes to the other nodes' pods, the way kubenet/host-gw do it: for every other Node with a
/// `spec.podCIDR` and an InternalIP, a route `podCIDR via InternalIP` in the main table. The
/// nodes must share a link (L2). Routes this agent made carry metric `NodeRoutes.metric`, so a
/// restarted agent finds (and removes) those it no longer wants; other routes are left alone.
struct NodeRoutes: Sendable {
    let client: KubeClient
    let nodeName: String
    let logger: Logger

    /// The marker metric of node routes.
    static let metric: UInt32 = 2323

    actor Known {
        var nodes: [String: JSONValue] = [:]
        func replace(_ items: [JSONValue]) -> [JSONValue] {
            nodes = Dictionary(items.map { ($0["metadata"]?["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { _, b in b })
            return Array(nodes.values)
        }
        func set(_ node: JSONValue, deleted: Bool) -> [JSONValue] {
            let name = node["metadata"]?["name"]?.stringValue ?? ""
            nodes[name] = deleted ? nil : node
            return Array(nodes.values)
        }
    }

    func run() async {
        let known = Known()
        await Informer(client: client, path: "/api/v1/nodes", logger: logger).run { update in
            let nodes: [JSONValue]
            switch update {
            case .snapshot(let items): nodes = await known.replace(items)
            case .added(let o), .modified(let o): nodes = await known.set(o, deleted: false)
            case .deleted(let o): nodes = await known.set(o, deleted: true)
            }
            do { try reconcile(Self.desired(nodes, except: nodeName)) } catch { logger.warning("node routes: \(error)") }
        }
    }

    /// podCIDR -> InternalIP of every other node that has both (IPv4 and IPv6 alike).
    static func desired(_ nodes: [JSONValue], except own: String) -> [IPNetwork: IPAddress] {
        var out: [IPNetwork: IPAddress] = [:]
        for node in nodes where node["metadata"]?["name"]?.stringValue != own {
            let addresses = node["status"]?["addresses"]?.arrayValue ?? []
            let internalIPs = addresses.filter { $0["type"]?.stringValue == "InternalIP" }.compactMap { $0["address"]?.stringValue }.compactMap(IPAddress.init)
            var cidrs = (node["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap { $0.stringValue }
            if cidrs.isEmpty, let one = node["spec"]?["podCIDR"]?.stringValue { cidrs = [one] }
            for text in cidrs {
                guard let network = IPNetwork(text), let via = internalIPs.first(where: { $0.isV4 == network.address.isV4 }) else { continue }
                out[network] = via
            }
        }
        return out
    }

    /// Adds missing routes, replaces those with another gateway, removes marked ones not wanted.
    func reconcile(_ wanted: [IPNetwork: IPAddress]) throws {
        let socket = try RouteSocket()
        var present: [IPNetwork: RouteEntry] = [:]
        for version in [4, 6] {
            for route in try socket.routes(version: version) where route.priority == Self.metric { present[route.destination] = route }
        }
        for (destination, route) in present where wanted[destination] != route.gateway {
            do {
                try socket.deleteRoute(route)
                logger.info("node routes: removed \(destination) via \(route.gateway.map { "\($0)" } ?? "?")")
            } catch let error as NetlinkError where error.isNotFound {}
        }
        for (destination, gateway) in wanted where present[destination]?.gateway != gateway {
            var route = RouteEntry(destination: destination, gateway: gateway)
            route.priority = Self.metric
            try socket.addRoute(route)
            logger.info("node routes: \(destination) via \(gateway)")
        }
    }
}
