import CNI
import LinuxNetlink

/// `swiftlet-portmap`: hostPort forwarding for a chained attachment. Reads the pod's
/// addresses from prevResult and forwards each mapped host port to them with nftables DNAT,
/// passing the previous result on unchanged.
public struct PortmapPlugin: CNIPlugin {
    public init() {}

    public func add(_ request: PluginRequest) throws -> CNIResult {
        guard var previous = request.prevResult else {
            throw CNIError.config("swiftlet-portmap must be called as a chained plugin (no prevResult)")
        }
        let config = try PortmapConfig(request: request)
        previous.cniVersion = request.cniVersion
        guard !config.mappings.isEmpty else { return previous }
        let addresses = podAddresses(previous)
        guard !addresses.isEmpty else { throw CNIError.generic("prevResult has no pod address to forward host ports to") }
        try PortForwarding.add(network: request.networkName, containerID: request.containerID, ifname: request.ifname,
                               mappings: config.mappings, addresses: addresses, snat: config.snat)
        return previous
    }

    public func del(_ request: PluginRequest) throws {
        try PortForwarding.remove(network: request.networkName, containerID: request.containerID, ifname: request.ifname)
    }

    public func check(_ request: PluginRequest) throws {
        let config = try PortmapConfig(request: request)
        guard !config.mappings.isEmpty else { return }
        try PortForwarding.check(network: request.networkName, containerID: request.containerID, ifname: request.ifname,
                                 mappings: config.mappings)
    }

    public func gc(_ request: PluginRequest) throws {
        try PortForwarding.gc(network: request.networkName, valid: try HostLocalPlugin().validAttachments(request))
    }

    /// The pod's own addresses: those on a sandbox interface (all of them when the previous
    /// plugin did not say which interface an address belongs to).
    func podAddresses(_ result: CNIResult) -> [IPAddress] {
        result.ips.filter { ip in
            guard let index = ip.interface, index >= 0, index < result.interfaces.count else { return true }
            return result.interfaces[index].sandbox != nil && result.interfaces[index].name != "lo"
        }.map(\.address.address)
    }
}

