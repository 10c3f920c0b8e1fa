import LinuxNetlink

/// How this node's proxy behaves: kube-proxy's flags that matter to the ruleset.
public struct ProxyConfig: Sendable, Equatable {
    /// Our tables (one per family); nothing outside them is ever touched.
    public var tableName = "swiftlet-proxy"
    /// This node's name: endpoints whose `nodeName` equals it are local.
    public var nodeName: String
    /// `--nodeport-addresses`: CIDRs whose local addresses accept NodePort traffic; empty
    /// means every local address except loopback (kube-proxy's match-all).
    public var nodePortAddresses: [IPPrefix] = []
    /// `--cluster-cidr`: pod ranges; traffic to a ClusterIP from outside them is masqueraded.
    public var clusterCIDRs: [IPPrefix] = []
    /// `--masquerade-all`.
    public var masqueradeAll = false
    /// `--masquerade-bit` as a mark value (kube-proxy default bit 14).
    public var masqueradeMark: UInt32 = 1 << 14
    /// Families to program.
    public var families: [IPFamily] = [.ipv4, .ipv6]

    public init(nodeName: String) { self.nodeName = nodeName }

    public var nodePortsMatchAll: Bool { nodePortAddresses.isEmpty }
}

extension IPFamily {
    var nft: NFTFamily { self == .ipv4 ? .ip : .ip6 }
}
