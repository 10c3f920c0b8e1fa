import Networking

extension NodeOptions {
    /// The pod network options. A node with the default root keeps CNI's standard state
    /// (/var/lib/cni: result cache and host-local's addresses), so other CNI tools agree with
    /// it; any other root keeps its own below itself, so that two agents (tests, a second node)
    /// never garbage-collect each other's attachments.
    var podNetworkOptions: PodNetworkOptions {
        var options = PodNetworkOptions(confDir: cniConfDir, binDir: cniBinDir, podCIDR: podCidr)
        if rootDir != "/var/lib/swiftlet" {
            options.cacheDir = rootDir + "/cni"
            options.ipamDataDir = rootDir + "/cni/networks"
        }
        return options
    }
}
