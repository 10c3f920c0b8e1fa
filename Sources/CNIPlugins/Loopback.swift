import CNI
import LinuxNetlink

/// `swiftlet-loopback`: brings `lo` up in the pod's namespace (a new namespace starts with
/// it down, and 127.0.0.1 does not answer until it is up).
public struct LoopbackPlugin: CNIPlugin {
    public init() {}

    public func add(_ request: PluginRequest) throws -> CNIResult {
        guard NetworkNamespace.exists(request.netns) else {
            throw CNIError(code: CNIError.containerUnknown, msg: "network namespace \(request.netns) does not exist")
        }
        let pod = try RouteSocket.inNamespace(request.netns)
        let lo = try pod.requireLink(named: "lo")
        try pod.setUp(index: lo.index)
        // In a chain, pass the previous plugin's result on unchanged (the pod's IPs live there).
        if var previous = request.prevResult {
            previous.cniVersion = request.cniVersion
            return previous
        }
        var result = CNIResult(cniVersion: request.cniVersion)
        result.interfaces = [.init(name: "lo", mac: "00:00:00:00:00:00", sandbox: request.netns)]
        // The kernel puts 127.0.0.1/8 (and ::1 when IPv6 is on) on lo; report what is there.
        for address in try pod.addresses(index: lo.index) {
            result.ips.append(CNIResult.IPConfig(address: address.network, interface: 0))
        }
        return result
    }

    /// Brings lo down again; a namespace already gone is success (idempotent DEL).
    public func del(_ request: PluginRequest) throws {
        guard !request.netns.isEmpty, NetworkNamespace.exists(request.netns) else { return }
        let pod = try RouteSocket.inNamespace(request.netns)
        if let lo = try pod.link(named: "lo") { try pod.setDown(index: lo.index) }
    }

    public func check(_ request: PluginRequest) throws {
        guard NetworkNamespace.exists(request.netns) else {
            throw CNIError(code: CNIError.containerUnknown, msg: "network namespace \(request.netns) does not exist")
        }
        let pod = try RouteSocket.inNamespace(request.netns)
        guard try pod.requireLink(named: "lo").isUp else { throw CNIError.generic("lo is down in \(request.netns)") }
    }
}
