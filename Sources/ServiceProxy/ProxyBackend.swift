import LinuxNetlink
import Synchronization

/// What the proxier needs from the kernel, as one swappable mechanism: the real one speaks
/// netlink (nftables, conntrack, rtnetlink); tests of the sync logic use a recording fake.
public protocol ProxyBackend: Sendable {
    /// Applies a transaction atomically or throws (nothing applied).
    func apply(_ transaction: NFTTransaction) throws
    /// Deletes UDP conntrack entries matching any filter; returns how many.
    func deleteConntrack(_ filters: [ConntrackFilter], ipv6: Bool) throws -> Int
    /// The node's interface addresses (for `--nodeport-addresses`).
    func localAddresses() throws -> [IPAddress]
}

/// The real backend, bound to one network namespace for its whole life.
public final class NetlinkProxyBackend: ProxyBackend {
    let nft: NFTables
    private let last = Mutex<NFTCommitResult?>(nil)
    /// What the last applied transaction cost (size, encoding and kernel time).
    public var lastCommit: NFTCommitResult? { last.withLock { $0 } }
    let conntrack: ConntrackTable
    let addresses: InterfaceAddressList

    /// `networkNamespace`: a path such as `/run/netns/NAME` (nil: this process's namespace).
    public init(networkNamespace: String? = nil) throws {
        nft = try NFTables(networkNamespace: networkNamespace)
        conntrack = try ConntrackTable(networkNamespace: networkNamespace)
        addresses = try InterfaceAddressList(networkNamespace: networkNamespace)
    }

    public func apply(_ transaction: NFTTransaction) throws {
        let result = try nft.commit(transaction)
        last.withLock { $0 = result }
    }

    public func deleteConntrack(_ filters: [ConntrackFilter], ipv6: Bool) throws -> Int {
        try conntrack.delete(matching: filters, ipv6: ipv6, proto: NFTL4Proto.udp)
    }

    public func localAddresses() throws -> [IPAddress] {
        try addresses.addresses().map { IPAddress(bytes: $0.address) }
    }
}
