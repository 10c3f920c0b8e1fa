import LinuxPrimitives
import ShimProtocol

extension RuntimeService {
    /// What the container was (or will be) started with: user, groups, capabilities, argv.
    public func spawnSpec(ofContainer id: String) -> ContainerSpawnSpec? {
        guard let record = containers.withLock({ $0[id] }),
              let bytes = try? FileSystem.readBytes(ShimProtocol.Paths.spawnSpec(sandboxDir(record.sandboxID), id)),
              let records = Records.decode(bytes) else { return nil }
        return ContainerSpawnSpec(records: records)
    }

    /// nil when pods can get a network, or why they cannot (CRI NetworkReady condition).
    public func networkReadiness() async -> String? {
        await network.readiness()
    }

    /// The sandbox's state directory (pinned namespaces, shim socket, /etc files).
    public func sandboxDirectory(_ id: String) -> String { sandboxDir(id) }

    /// The pod's network namespace file, nil for host-network pods.
    public func networkNamespacePath(_ id: String) -> String? {
        guard let record = sandboxes.withLock({ $0[id] }), record.config.network != .node else { return nil }
        return ShimProtocol.Paths.namespace(sandboxDir(id), .net)
    }
}
