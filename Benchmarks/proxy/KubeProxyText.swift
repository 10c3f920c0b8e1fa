import Foundation

/// Generates what kube-proxy itself would load for the same services: its nftables-mode
/// ruleset (the `nft -f` input of its first sync), the partial-sync delta it sends when one
/// service's endpoints change, and its iptables-mode `iptables-restore` input. Shapes follow
/// pkg/proxy/nftables/proxier.go and pkg/proxy/iptables/proxier.go.
enum KubeProxyText {
    static func serviceIP(_ s: Int) -> String { "172.30.\(s / 250).\(s % 250 + 1)" }
    /// Endpoint addresses: unique per (service, endpoint).
    static func endpoint(_ s: Int, _ e: Int, generation: Int = 0) -> String {
        let n = s * 16 + e
        return "10.\(64 + generation * 8 + n / 65536).\(n / 256 % 256).\(n % 256)"
    }

    static func hash(_ name: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return String((0..<8).map { alphabet[Int((h >> (UInt64($0) * 5)) & 31)] })
    }

    static func svcName(_ s: Int) -> String { "ns\(s % 50)/svc\(s)/tcp/http" }
    static func serviceChain(_ s: Int) -> String { "service-\(hash(svcName(s)))-\(svcName(s))" }
    static func endpointChain(_ s: Int, _ ip: String) -> String {
        let base = "\(svcName(s))__\(ip)/8080"
        return "endpoint-\(hash(base))-\(base)"
    }

    static let header = """
    add table ip kube-proxy { comment "rules for kube-proxy" ; }
    add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }
    add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }
    add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }
    add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }
    add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
    add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
    add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
    add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
    add chain ip kube-proxy nodeport-endpoints-check
    add chain ip kube-proxy service-endpoints-check
    add chain ip kube-proxy firewall-check
    add chain ip kube-proxy services
    add chain ip kube-proxy masquerading
    add chain ip kube-proxy cluster-ips-check
    add chain ip kube-proxy mark-for-masquerade
    add chain ip kube-proxy reject-chain
    add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
    add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
    add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
    add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
    add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
    add rule ip kube-proxy filter-output ct state new jump firewall-check
    add rule ip kube-proxy nat-output jump services
    add rule ip kube-proxy nat-prerouting jump services
    add rule ip kube-proxy nat-postrouting jump masquerading
    add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
    add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check
    add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
    add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
    add rule ip kube-proxy masquerading mark set mark xor 0x4000
    add rule ip kube-proxy masquerading masquerade fully-random
    add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
    add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject
    add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; }
    add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; }
    add rule ip kube-proxy reject-chain reject
    add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
    add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports
    add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
    add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
    add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
    add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; }
    add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
    add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports

    """

    /// The rules of one service's chain and its endpoint chains (kube-proxy writes these for
    /// every service on a full sync and for the changed service on a partial one).
    static func serviceBody(_ s: Int, endpoints: [String], into out: inout String, flushFirst: Bool) {
        let chain = serviceChain(s)
        // Chains first: a rule may only jump to a chain that exists.
        for ip in endpoints {
            out += "add chain ip kube-proxy \(endpointChain(s, ip))\n"
            if flushFirst { out += "flush chain ip kube-proxy \(endpointChain(s, ip))\n" }
        }
        out += "add chain ip kube-proxy \(chain)\n"
        if flushFirst { out += "flush chain ip kube-proxy \(chain)\n" }
        out += "add rule ip kube-proxy \(chain) ip daddr \(serviceIP(s)) tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade\n"
        let vmap = endpoints.enumerated().map { "\($0.offset) : goto \(endpointChain(s, $0.element))" }.joined(separator: " , ")
        out += "add rule ip kube-proxy \(chain) numgen random mod \(endpoints.count) vmap { \(vmap) }\n"
        for ip in endpoints {
            let ep = endpointChain(s, ip)
            out += "add rule ip kube-proxy \(ep) ip saddr \(ip) jump mark-for-masquerade\n"
            out += "add rule ip kube-proxy \(ep) meta l4proto tcp dnat to \(ip):8080\n"
        }
    }

    static func fullRuleset(services: Int, endpoints: Int) -> String {
        var out = header
        out.reserveCapacity(services * endpoints * 300)
        for s in 0..<services {
            serviceBody(s, endpoints: (0..<endpoints).map { endpoint(s, $0) }, into: &out, flushFirst: false)
            out += "add element ip kube-proxy cluster-ips { \(serviceIP(s)) }\n"
            out += "add element ip kube-proxy service-ips { \(serviceIP(s)) . tcp . 80 : goto \(serviceChain(s)) }\n"
        }
        return out
    }

    /// kube-proxy's partial sync after one endpoint of service `s` was replaced: the service
    /// and all its endpoint chains are re-written, the stale endpoint chain flushed.
    static func oneServiceDelta(_ s: Int, endpoints: Int) -> String {
        var list = (0..<endpoints).map { endpoint(s, $0) }
        let stale = list[0]
        list[0] = endpoint(s, endpoints, generation: 1)
        var out = ""
        serviceBody(s, endpoints: list, into: &out, flushFirst: true)
        out += "flush chain ip kube-proxy \(endpointChain(s, stale))\n"
        return out
    }

    /// kube-proxy's partial sync adding one new service `s` (its chains, rules and elements).
    static func oneServiceAdd(_ s: Int, endpoints: Int) -> String {
        var out = ""
        serviceBody(s, endpoints: (0..<endpoints).map { endpoint(s, $0) }, into: &out, flushFirst: false)
        out += "add element ip kube-proxy cluster-ips { \(serviceIP(s)) }\n"
        out += "add element ip kube-proxy service-ips { \(serviceIP(s)) . tcp . 80 : goto \(serviceChain(s)) }\n"
        return out
    }

    static func iptablesRestore(services: Int, endpoints: Int) -> String {
        func chainID(_ text: String) -> String { (hash(text) + hash(text + "#")).uppercased() }
        var chains = ":KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"
        var rules = """
        -A PREROUTING -j KUBE-SERVICES
        -A OUTPUT -j KUBE-SERVICES
        -A POSTROUTING -j KUBE-POSTROUTING
        -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
        -A KUBE-POSTROUTING -j MASQUERADE --random-fully

        """
        for s in 0..<services {
            let svc = "KUBE-SVC-" + chainID(svcName(s))
            chains += ":\(svc) - [0:0]\n"
            rules += "-A KUBE-SERVICES -d \(serviceIP(s))/32 -p tcp -m tcp --dport 80 -j \(svc)\n"
            rules += "-A \(svc) ! -s 10.0.0.0/8 -d \(serviceIP(s))/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ\n"
            for e in 0..<endpoints {
                let ip = endpoint(s, e)
                let sep = "KUBE-SEP-" + chainID("\(svcName(s))\(ip)")
                chains += ":\(sep) - [0:0]\n"
                let remaining = endpoints - e
                let prob = remaining > 1 ? " -m statistic --mode random --probability \(String(format: "%.10f", 1.0 / Double(remaining)))" : ""
                rules += "-A \(svc)\(prob) -j \(sep)\n"
                rules += "-A \(sep) -s \(ip)/32 -j KUBE-MARK-MASQ\n-A \(sep) -p tcp -m tcp -j DNAT --to-destination \(ip):8080\n"
            }
        }
        return "*nat\n" + chains + rules + "COMMIT\n"
    }
}
