import Foundation
import LinuxPrimitives
import ShimProtocol

/// A read-only look at a runtime's on-disk state, for host-side tools (`swiftlet pods`,
/// `logs`, `exec`) that run beside the agent without talking to it.
public struct RuntimeInventory: Sendable {
    public struct Entry: Sendable {
        public var sandbox: SandboxRecord
        public var sandboxDir: String
        public var containers: [(record: ContainerRecord, state: ShimContainerState?)]
    }

    public let entries: [Entry]

    public init(runDir: String) {
        var entries: [Entry] = []
        let base = runDir + "/sandboxes"
        for id in (try? FileSystem.listDirectory(base)) ?? [] {
            let dir = base + "/" + id
            guard let sandbox = try? StateFiles.load(SandboxRecord.self, from: dir + "/sandbox.json") else { continue }
            var containers: [(ContainerRecord, ShimContainerState?)] = []
            for cid in (try? FileSystem.listDirectory(dir + "/containers")) ?? [] {
                guard let record = try? StateFiles.load(ContainerRecord.self, from: ShimProtocol.Paths.containerDir(dir, cid) + "/container.json") else { continue }
                containers.append((record, ShimContainerState.load(ShimProtocol.Paths.state(dir, cid))))
            }
            containers.sort { ($0.0.config.name, $0.0.config.attempt) < ($1.0.config.name, $1.0.config.attempt) }
            entries.append(Entry(sandbox: sandbox, sandboxDir: dir, containers: containers))
        }
        self.entries = entries.sorted { ($0.sandbox.config.namespace, $0.sandbox.config.name) < ($1.sandbox.config.namespace, $1.sandbox.config.name) }
    }

    /// The pod named `name` (optionally `namespace/name`), its newest sandbox.
    public func pod(_ name: String) -> Entry? {
        let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
        let matches = entries.filter { e in
            parts.count == 2 ? e.sandbox.config.namespace == parts[0] && e.sandbox.config.name == parts[1] : e.sandbox.config.name == name
        }
        return matches.max { $0.sandbox.createdAt < $1.sandbox.createdAt }
    }

    /// The newest instance of a container of the pod (the first container when `name` is nil).
    public static func container(_ entry: Entry, name: String?) -> (record: ContainerRecord, state: ShimContainerState?)? {
        let wanted = name ?? entry.containers.first?.record.config.name
        return entry.containers.filter { $0.record.config.name == wanted }.max { $0.record.createdAt < $1.record.createdAt }
    }
}
