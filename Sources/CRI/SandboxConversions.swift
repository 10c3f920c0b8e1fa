import CRIAPI
import GRPCCore
import Runtime

/// PodSandboxConfig in, PodSandbox/PodSandboxStatus out.
enum SandboxConversions {
    /// The runtime's sandbox config from a CRI one; refuses what would be silently wrong.
    static func sandboxConfig(_ c: Runtime_V1_PodSandboxConfig) throws -> SandboxConfig {
        let m = c.metadata
        guard c.hasMetadata, !m.name.isEmpty else { throw CRIErrors.invalid("config.metadata.name is required") }
        guard !m.namespace.isEmpty else { throw CRIErrors.invalid("config.metadata.namespace is required") }
        guard !m.uid.isEmpty else { throw CRIErrors.invalid("config.metadata.uid is required") }
        let options = c.linux.securityContext.namespaceOptions
        let network = try mode(options.network, field: "network", allowContainer: false)
        let pid = try mode(options.pid, field: "pid", allowContainer: true)
        let ipc = try mode(options.ipc, field: "ipc", allowContainer: false)
        let sysctls = c.linux.sysctls
        try SysctlPolicy.validate(sysctls, hostNetwork: network == .node, hostIPC: ipc == .node)
        var dns: DNSConfig? = nil
        if c.hasDnsConfig {
            dns = DNSConfig(servers: c.dnsConfig.servers, searches: c.dnsConfig.searches, options: c.dnsConfig.options)
        }
        let ports = try c.portMappings.map { p -> PortMapping in
            guard p.containerPort > 0, p.containerPort <= 65535 else {
                throw CRIErrors.invalid("config.port_mappings: container_port \(p.containerPort) is outside 1-65535")
            }
            guard p.hostPort >= 0, p.hostPort <= 65535 else {
                throw CRIErrors.invalid("config.port_mappings: host_port \(p.hostPort) is outside 0-65535")
            }
            return PortMapping(containerPort: p.containerPort, hostPort: p.hostPort, protocol: protocolName(p.protocol), hostIP: p.hostIp)
        }
        return SandboxConfig(name: m.name, namespace: m.namespace, uid: m.uid, attempt: m.attempt, hostname: c.hostname,
                             logDirectory: c.logDirectory, labels: c.labels, annotations: c.annotations, network: network, pid: pid,
                             ipc: ipc, cgroupParent: c.linux.cgroupParent, dns: dns, portMappings: ports, sysctls: sysctls)
    }

    static func mode(_ mode: Runtime_V1_NamespaceMode, field: String, allowContainer: Bool) throws -> NamespaceMode {
        switch mode {
        case .pod: return .pod
        case .node: return .node
        case .container:
            // A network or IPC namespace per container makes no sense for a pod: it is the pod's.
            return allowContainer ? .container : .pod
        case .target, .UNRECOGNIZED:
            throw CRIErrors.invalid("namespace_options.\(field): mode \(mode) is not supported for a sandbox")
        }
    }

    static func protocolName(_ p: Runtime_V1_Protocol) -> String {
        switch p {
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        default: return "TCP"
        }
    }

    static func protocolValue(_ name: String) -> Runtime_V1_Protocol {
        switch name.uppercased() {
        case "UDP": return .udp
        case "SCTP": return .sctp
        default: return .tcp
        }
    }

    static func metadata(_ c: SandboxConfig) -> Runtime_V1_PodSandboxMetadata {
        var m = Runtime_V1_PodSandboxMetadata()
        m.name = c.name
        m.namespace = c.namespace
        m.uid = c.uid
        m.attempt = c.attempt
        return m
    }

    static func state(_ s: SandboxState) -> Runtime_V1_PodSandboxState {
        s == .ready ? .sandboxReady : .sandboxNotready
    }

    static func namespaceMode(_ m: NamespaceMode) -> Runtime_V1_NamespaceMode {
        switch m {
        case .pod: return .pod
        case .container: return .container
        case .node: return .node
        }
    }

    static func podSandbox(_ r: SandboxRecord) -> Runtime_V1_PodSandbox {
        var p = Runtime_V1_PodSandbox()
        p.id = r.id
        p.metadata = metadata(r.config)
        p.state = state(r.state)
        p.createdAt = r.createdAt
        p.labels = r.config.labels
        p.annotations = r.config.annotations
        return p
    }

    static func status(_ r: SandboxRecord) -> Runtime_V1_PodSandboxStatus {
        var s = Runtime_V1_PodSandboxStatus()
        s.id = r.id
        s.metadata = metadata(r.config)
        s.state = state(r.state)
        s.createdAt = r.createdAt
        if r.config.network != .node, let ips = r.network?.ips, let first = ips.first {
            var n = Runtime_V1_PodSandboxNetworkStatus()
            n.ip = first
            n.additionalIps = ips.dropFirst().map { ip in
                var p = Runtime_V1_PodIP()
                p.ip = ip
                return p
            }
            s.network = n
        }
        var options = Runtime_V1_NamespaceOption()
        options.network = namespaceMode(r.config.network)
        options.pid = namespaceMode(r.config.pid)
        options.ipc = namespaceMode(r.config.ipc)
        s.linux.namespaces.options = options
        s.labels = r.config.labels
        s.annotations = r.config.annotations
        return s
    }

    static func matches(_ r: SandboxRecord, _ f: Runtime_V1_PodSandboxFilter) -> Bool {
        if !f.id.isEmpty && !r.id.hasPrefix(f.id) { return false }
        if f.hasState && state(r.state) != f.state.state { return false }
        return f.labelSelector.allSatisfy { r.config.labels[$0.key] == $0.value }
    }
}

/// Which sysctls a pod may set: only namespaced ones, and never those of a namespace the pod
/// shares with the node (runc refuses the same; kubelet decides safe vs. allowed-unsafe).
enum SysctlPolicy {
    static let ipcNames: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                                        "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]

    static func validate(_ sysctls: [String: String], hostNetwork: Bool, hostIPC: Bool) throws {
        for (name, value) in sysctls.sorted(by: { $0.key < $1.key }) {
            let key = name.replacingOccurrences(of: "/", with: ".")
            guard !key.isEmpty, !key.contains(".."), key.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw CRIErrors.invalid("sysctl \"\(name)\": invalid name")
            }
            guard !value.contains("\n") else { throw CRIErrors.invalid("sysctl \"\(name)\": value contains a newline") }
            if ipcNames.contains(key) || key.hasPrefix("fs.mqueue.") {
                if hostIPC { throw CRIErrors.invalid("sysctl \"\(name)\" is not allowed with the node's IPC namespace") }
            } else if key.hasPrefix("net.") {
                if hostNetwork { throw CRIErrors.invalid("sysctl \"\(name)\" is not allowed with the node's network namespace") }
            } else {
                throw CRIErrors.invalid("sysctl \"\(name)\" is not namespaced: it would change the node, not the pod")
            }
        }
    }
}
