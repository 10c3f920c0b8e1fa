import CNI
import LinuxNetlink

/// One `runtimeConfig.portMappings` entry (field names as the portMappings capability).
public struct PortMappingEntry: Sendable, Equatable {
    public var hostPort: UInt16
    public var containerPort: UInt16
    /// `tcp`, `udp` or `sctp`.
    public var proto: String
    /// Only traffic to this host address is forwarded; nil for every address.
    public var hostIP: IPAddress?
}

/// portmap's configuration: the mappings the runtime passed, and `snat` (default true:
/// masquerade traffic that reaches a pod through its own host port from the pod itself or
/// the host, so replies come back the same way).
public struct PortmapConfig: Sendable {
    public var mappings: [PortMappingEntry] = []
    public var snat = true

    public init(request: PluginRequest) throws(CNIError) {
        let config = request.config
        snat = try config.bool("snat", default: true)
        guard let runtime = try config.object("runtimeConfig"), let list = try runtime.array("portMappings") else { return }
        for (index, item) in list.enumerated() {
            let fields = try ConfigFields(item, path: runtime.fieldPath("portMappings") + "[\(index)]")
            guard let host = try fields.int("hostPort", range: 1...65535) else { throw fields.invalid("hostPort", "is required") }
            guard let container = try fields.int("containerPort", range: 1...65535) else { throw fields.invalid("containerPort", "is required") }
            let proto = (try fields.string("protocol") ?? "tcp").lowercased()
            guard ["tcp", "udp", "sctp"].contains(proto) else { throw fields.invalid("protocol", "must be tcp, udp or sctp, not \(proto)") }
            var hostIP: IPAddress? = nil
            if let text = try fields.string("hostIP"), !text.isEmpty {
                guard let address = IPAddress(text) else { throw fields.invalid("hostIP", "is not an IP address: \(text)") }
                hostIP = address.isUnspecified ? nil : address
            }
            mappings.append(PortMappingEntry(hostPort: UInt16(host), containerPort: UInt16(container), proto: proto, hostIP: hostIP))
        }
    }
}
