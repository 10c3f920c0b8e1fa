import Logging
import Networking

extension NodeOptions {
    /// The pod network options. A node with the default root keeps CNI's standard state
    /// (/var/lib/cni: result cache and host-local's addresses), so other CNI tools agree with
    /// it; any other root keeps its own below itself, so that two agents (tests, a second node)
    /// never garbage-collect each other's attachments.
    var podNetworkOptions: PodNetworkOptions {
        var options = PodNetworkOptions(confDir: cniConfDir, binDir: cniBinDir, podCIDR: podCidr)
        // Our own plugins run in process unless asked not to (InProcessExecutor says which files qualify).
        options.executor = cniExecOwnPlugins ? SpawnExecutor() : InProcessExecutor.besideThisExecutable()
        if rootDir != "/var/lib/swiftlet" {
            options.cacheDir = rootDir + "/cni"
            options.ipamDataDir = rootDir + "/cni/networks"
        }
        return options
    }
}

extension NodeOptions {
    /// `swiftlet up --data-dir DIR` keeps every piece of state under DIR: with a DIR of its own
    /// and the host paths left at their defaults, the default CNI configuration (when the host
    /// has none) and the pod logs go below DIR instead of /etc/cni/net.d and /var/log/pods.
    /// A host that has a CNI configuration keeps using it.
    mutating func keepStateUnder(_ dataDir: String, logger: Logger) {
        guard dataDir != "/var/lib/swiftlet" else { return }
        if cniConfDir == "/etc/cni/net.d", ((try? NetworkConfigList.loadFirst(in: cniConfDir)) ?? nil) == nil {
            cniConfDir = dataDir + "/cni/net.d"
            logger.info("no CNI configuration in /etc/cni/net.d: the default network's goes to \(cniConfDir)")
        }
        if podLogDir == "/var/log/pods" { podLogDir = dataDir + "/log/pods" }
    }
}
