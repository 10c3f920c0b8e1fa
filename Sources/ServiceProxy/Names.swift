/// Object names inside our tables, as kube-proxy's nftables mode names them, so that people
/// who know `nft list table ip kube-proxy` can read ours.
enum Names {
    static let filterPrerouting = "filter-prerouting"
    static let filterInput = "filter-input"
    static let filterForward = "filter-forward"
    static let filterOutput = "filter-output"
    static let filterOutputPostDNAT = "filter-output-post-dnat"
    static let natPrerouting = "nat-prerouting"
    static let natOutput = "nat-output"
    static let natPostrouting = "nat-postrouting"

    static let services = "services"
    static let serviceIPs = "service-ips"
    static let serviceNodePorts = "service-nodeports"
    static let nodePortIPs = "nodeport-ips"
    static let clusterIPs = "cluster-ips"
    static let serviceEndpointsCheck = "service-endpoints-check"
    static let nodePortEndpointsCheck = "nodeport-endpoints-check"
    static let noEndpointServices = "no-endpoint-services"
    static let noEndpointNodePorts = "no-endpoint-nodeports"
    static let rejectChain = "reject-chain"
    static let clusterIPsCheck = "cluster-ips-check"
    static let firewallIPs = "firewall-ips"
    static let firewallCheck = "firewall-check"
    static let markMasq = "mark-for-masquerade"
    static let masquerading = "masquerading"
    /// Our addition: `endpoint . endpoint` pairs, to masquerade a pod reaching itself.
    static let hairpin = "hairpin-endpoints"
    /// Ours: `VIP . proto . port . slot : endpoint . port`, what the shared pick chains read.
    static let serviceEndpoints = "service-endpoints"
    /// Ours: `proto . nodePort . slot : endpoint . port`.
    static let nodePortEndpoints = "nodeport-endpoints"

    /// `HASH-namespace/name/proto/port`: a stable 8-character hash keeps names unique and
    /// visually distinct; names are cut to fit nftables' 256-byte limit.
    static func hashed(_ name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var prefix = ""
        for i in 0..<8 { prefix.append(alphabet[Int((hash >> (UInt64(i) * 5)) & 31)]) }
        var out = prefix + "-" + name
        if out.utf8.count > 240 { out = String(decoding: out.utf8.prefix(237), as: UTF8.self) + "..." }
        return out
    }

    static func serviceChain(_ p: ServicePortInfo) -> String { "service-" + hashed(p.nameString) }
    static func localChain(_ p: ServicePortInfo) -> String { "local-" + hashed(p.nameString) }
    static func externalChain(_ p: ServicePortInfo) -> String { "external-" + hashed(p.nameString) }
    static func firewallChain(_ p: ServicePortInfo) -> String { "firewall-" + hashed(p.nameString) }
    static func affinitySet(_ p: ServicePortInfo, _ ep: EndpointInfo) -> String {
        let ip = ep.ip.description.replacingColons
        return "affinity-" + hashed("\(p.nameString)__\(ip)/\(ep.port)")
    }
}

extension String {
    var replacingColons: String { String(map { $0 == ":" ? "." : $0 }) }
}
