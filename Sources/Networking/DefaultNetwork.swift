import CNI
import LinuxNetlink
import LinuxPrimitives
import Logging

/// The network a node gets when its operator configured none: our bridge + host-local over
/// the pod CIDR, hostPort through portmap, and loopback. Written once, as a normal conflist,
/// so the operator sees (and may edit or replace) exactly what is in use.
public enum DefaultNetwork {
    public static let fileName = "10-swiftlet.conflist"
    public static let networkName = "swiftlet"
    public static let bridgeName = "swiftlet0"

    /// The conflist for `podCIDR`; errors name the flag.
    public static func conflist(podCIDR: String, ipamDataDir: String? = nil) throws(PodNetworkError) -> JSON {
        guard let subnet = IPNetwork(podCIDR), podCIDR.contains("/") else {
            throw .invalidConfiguration(path: "--pod-cidr", reason: "\"\(podCIDR)\" is not a prefix in CIDR notation")
        }
        let network = subnet.network
        if network.address.isV4 ? network.prefixLength > 30 : network.prefixLength > 126 {
            throw .invalidConfiguration(path: "--pod-cidr", reason: "\(network) is too small for pods")
        }
        let defaultRoute: JSON = network.address.isV4 ? "0.0.0.0/0" : "::/0"
        var ipam: JSON = [
            "type": "swiftlet-host-local",
            "ranges": [[["subnet": .string(network.description)]]],
            "routes": [["dst": defaultRoute]],
        ]
        if let ipamDataDir, case .object(var fields) = ipam {
            fields["dataDir"] = .string(ipamDataDir)
            ipam = .object(fields)
        }
        let bridge: JSON = [
            "type": "swiftlet-bridge",
            "bridge": .string(bridgeName),
            "isGateway": true,
            "isDefaultGateway": true,
            "ipMasq": .bool(Masquerading.enabledByDefault),
            "hairpinMode": true,
            "ipam": ipam,
        ]
        return [
            "cniVersion": .string(CNIVersion.current),
            "name": .string(networkName),
            "plugins": [
                bridge,
                ["type": "swiftlet-portmap", "capabilities": ["portMappings": true]],
                ["type": "swiftlet-loopback"],
            ],
        ]
    }

    /// Writes the default into `confDir` when it holds no configuration; returns the path
    /// written, or nil when a configuration was already there.
    @discardableResult
    public static func writeIfMissing(confDir: String, podCIDR: String, ipamDataDir: String? = nil,
                                      logger: Logger) throws(PodNetworkError) -> String? {
        guard try NetworkConfigList.files(in: confDir).isEmpty else { return nil }
        let document = try conflist(podCIDR: podCIDR, ipamDataDir: ipamDataDir)
        let path = confDir + "/" + fileName
        do {
            try FileSystem.createDirectory(confDir)
            try FileSystem.writeAtomically(path, document.serialized())
        } catch {
            throw .io(path: path, reason: "cannot write the default CNI configuration: \(error)")
        }
        logger.notice("no CNI configuration in \(confDir): wrote the default network",
                      metadata: ["path": "\(path)", "bridge": "\(bridgeName)", "podCIDR": "\(podCIDR)"])
        return path
    }
}

/// Our default network masquerades pod traffic leaving the pod CIDR, so pods reach beyond the node.
enum Masquerading {
    static let enabledByDefault = true
}

/// The host settings pod networking needs, and nothing else: IP forwarding for the pod
/// families, and (when the kernel has it) bridge netfilter, without which a pod reaching a
/// Service whose endpoint sits on the same bridge never has its reply un-NATed.
public enum HostNetworkSetup {
    public struct Changes: Sendable, Equatable {
        public var changed: [String] = []
    }

    /// Applies the settings in the calling thread's network namespace; logs each change.
    @discardableResult
    public static func apply(podCIDR: String, bridgeNetfilter: Bool = true, logger: Logger) throws(PodNetworkError) -> Changes {
        var changes = Changes()
        let isV6 = IPNetwork(podCIDR).map { !$0.address.isV4 } ?? false
        var settings: [(String, String)] = [("net.ipv4.ip_forward", "1")]
        if isV6 { settings.append(("net.ipv6.conf.all.forwarding", "1")) }
        if bridgeNetfilter && FileSystem.exists(Sysctl.path(for: "net.bridge.bridge-nf-call-iptables")) {
            settings.append(("net.bridge.bridge-nf-call-iptables", "1"))
            if isV6 { settings.append(("net.bridge.bridge-nf-call-ip6tables", "1")) }
        }
        for (key, value) in settings {
            do {
                if try Sysctl.ensure(key, value) {
                    changes.changed.append(key)
                    logger.notice("set \(key)=\(value) for pod networking")
                }
            } catch {
                throw .io(path: Sysctl.path(for: key), reason: "cannot set \(key)=\(value): \(error)")
            }
        }
        return changes
    }
}
