import CNI
import LinuxNetlink

/// ipMasq: source NAT for pod traffic leaving the pod subnet, through nftables.
/// Pending the shared nftables layer (Sources/LinuxNetlink/NFTables): until it lands an
/// ipMasq configuration is refused with a clear error rather than silently not masqueraded.
enum Masquerade {
    static func add(network: String, containerID: String, ifname: String, addresses: [IPNetwork]) throws {
        throw CNIError(code: CNIError.unsupportedField, msg: "ipMasq is not available yet in swiftlet-bridge (needs the nftables layer)")
    }

    static func remove(network: String, containerID: String, ifname: String) throws {}

    static func check(network: String, containerID: String, ifname: String) throws {}

    static func gc(network: String, valid: [(String, String)]) throws {}
}
