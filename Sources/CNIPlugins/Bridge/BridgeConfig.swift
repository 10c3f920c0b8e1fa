import CNI

/// The bridge plugin's configuration, with the reference plugin's field names and defaults.
public struct BridgeConfig: Sendable {
    /// Bridge device name (`bridge`, default `cni0`).
    public var bridge = "cni0"
    /// Give the bridge the gateway address(es), making it the pods' router.
    public var isGateway = false
    /// Also install a default route via the gateway in the pod (implies isGateway).
    public var isDefaultGateway = false
    /// Replace a different address of the same family/subnet on the bridge instead of failing.
    public var forceAddress = false
    /// Masquerade traffic from the pod leaving the pod subnet.
    public var ipMasq = false
    /// Let the bridge send frames back out of the port they came in on.
    public var hairpinMode = false
    public var promiscMode = false
    /// MTU for the bridge (when created) and both veth ends; nil keeps the kernel default.
    public var mtu: UInt32?
    /// The delegated IPAM plugin's `type`; nil for an L2-only attachment.
    public var ipamType: String?
    /// `dns` from the configuration, returned when IPAM gives none.
    public var dns: CNIResult.DNS?

    public init(config: ConfigFields) throws(CNIError) {
        if let name = try config.string("bridge"), !name.isEmpty {
            guard name.utf8.count < 16, !name.contains("/"), !name.contains(" ") else {
                throw config.invalid("bridge", "\"\(name)\" is not a valid interface name")
            }
            bridge = name
        }
        isDefaultGateway = try config.bool("isDefaultGateway")
        isGateway = try config.bool("isGateway") || isDefaultGateway
        forceAddress = try config.bool("forceAddress")
        ipMasq = try config.bool("ipMasq")
        hairpinMode = try config.bool("hairpinMode")
        promiscMode = try config.bool("promiscMode")
        if let value = try config.int("mtu", range: 0...65535), value > 0 {
            guard value >= 68 else { throw config.invalid("mtu", "must be at least 68, not \(value)") }
            mtu = UInt32(value)
        }
        if let ipam = try config.object("ipam"), let type = try ipam.string("type"), !type.isEmpty {
            ipamType = type
        }
        if let value = config.object["dns"], !value.isNull {
            do {
                dns = try CNIResult.parseDNS(value, path: "dns")
            } catch {
                throw CNIError.config(error.msg)
            }
        }
        if (try config.int("vlan") ?? 0) != 0 || config.has("vlanTrunk") {
            throw CNIError(code: CNIError.unsupportedField, msg: "vlan and vlanTrunk are not supported by this bridge plugin")
        }
    }
}
