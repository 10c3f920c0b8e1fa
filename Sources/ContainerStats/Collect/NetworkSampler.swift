import LinuxNetlink
import LinuxPrimitives

/// Interface counters per pod network namespace, through one cached netlink socket per pod.
///
/// A socket is opened inside the namespace once (`LinkStatsReader.inNetworkNamespace`) and
/// reused every round. Because an open socket keeps its namespace alive, sockets of pods that
/// left the target list are closed at once, and a socket is replaced when the namespace file
/// now names a different namespace (a recreated sandbox at the same path).
final class NetworkSampler {
    private struct Cached {
        var path: String
        var identity: FileIdentity
        var reader: LinkStatsReader
    }

    private var pods: [String: Cached] = [:]
    private var node: LinkStatsReader?

    var openSockets: Int { pods.count + (node == nil ? 0 : 1) }

    /// The node's own interfaces (the agent's network namespace), for the "/" series.
    func sampleNode(time: Double) throws -> NetworkUsage {
        if node == nil { node = try LinkStatsReader() }
        guard let reader = node else { return NetworkUsage(interfaces: [], time: time) }
        do {
            return NetworkUsage(interfaces: try reader.links().filter { !$0.isLoopback }, time: time)
        } catch {
            node = nil
            throw error
        }
    }

    /// The pod's interfaces; nil when its namespace file no longer exists.
    func samplePod(uid: String, namespacePath: String, time: Double) throws -> NetworkUsage? {
        guard let identity = FileIdentity.of(namespacePath) else {
            pods[uid] = nil
            return nil
        }
        var cached = pods[uid]
        if let existing = cached, existing.path != namespacePath || existing.identity != identity {
            cached = nil
        }
        if cached == nil {
            cached = Cached(path: namespacePath, identity: identity,
                            reader: try LinkStatsReader.inNetworkNamespace(namespacePath))
        }
        guard let entry = cached else { return nil }
        pods[uid] = entry
        do {
            return NetworkUsage(interfaces: try entry.reader.links().filter { !$0.isLoopback }, time: time)
        } catch {
            pods[uid] = nil
            throw error
        }
    }

    /// Closes the sockets of pods not in `uids`, releasing their namespaces.
    func retain(only uids: Set<String>) {
        for uid in pods.keys where !uids.contains(uid) { pods[uid] = nil }
    }
}
