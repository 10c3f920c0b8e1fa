import Foundation
import LinuxPrimitives
import ShimProtocol

extension RuntimeService {
    /// Re-adopts every sandbox whose shim is alive (same processes, nothing restarted), and
    /// removes what is orphaned: sandboxes whose shim died, pod cgroups and writable layers no
    /// sandbox owns, mounts under the run directory nobody owns, stale network attachments.
    /// Returns the adopted sandboxes.
    @discardableResult
    public func recover() async -> [SandboxRecord] {
        var adopted: [SandboxRecord] = []
        for id in (try? FileSystem.listDirectory(config.sandboxesDir)) ?? [] {
            let dir = sandboxDir(id)
            guard let record = try? StateFiles.load(SandboxRecord.self, from: dir + "/sandbox.json") else {
                logger.warning("removing sandbox directory \(dir) without a readable sandbox.json")
                for point in Mounts.mountPoints(under: dir) { try? Mounts.unmount(point) }
                try? FileSystem.removeTree(dir)
                continue
            }
            var containerRecords: [ContainerRecord] = []
            for cid in (try? FileSystem.listDirectory(dir + "/containers")) ?? [] {
                if let c = try? StateFiles.load(ContainerRecord.self, from: ShimProtocol.Paths.containerDir(dir, cid) + "/container.json") {
                    containerRecords.append(c)
                } else {
                    try? FileSystem.removeTree(ShimProtocol.Paths.containerDir(dir, cid))
                }
            }
            sandboxes.withLock { $0[id] = record }
            containers.withLock { for c in containerRecords { $0[c.id] = c } }
            if ProcessTable.isShim(pid: record.shimPID, sandboxDir: dir), ShimClient(sandboxDir: dir).isAlive() {
                do {
                    try monitor.watch(sandboxID: id, sandboxDir: dir)
                    adopted.append(record)
                    continue
                } catch {
                    logger.warning("cannot subscribe to the shim of sandbox \(id): \(error)")
                }
            }
            logger.warning("sandbox \(id) (\(record.config.namespace)/\(record.config.name)) lost its shim; removing it")
            await destroySandbox(record, reason: "lost shim")
        }
        await collectOrphans(keeping: adopted)
        return adopted
    }

    func collectOrphans(keeping adopted: [SandboxRecord]) async {
        let ownedCgroups = Set(adopted.map(\.cgroupPath))
        let kubepods = config.cgroupRoot + "/kubepods"
        for podCgroup in podCgroups(under: kubepods) where !ownedCgroups.contains(podCgroup) {
            logger.notice("removing orphaned pod cgroup \(podCgroup)")
            try? cgroups.remove(podCgroup)
        }
        let liveShims = Set(adopted.map(\.id))
        let shimsDir = hierarchy.directory(config.cgroupRoot + "/shims")
        for id in (try? FileSystem.listDirectory(shimsDir)) ?? [] where FileSystem.isDirectory(shimsDir + "/" + id) && !liveShims.contains(id) {
            logger.notice("removing orphaned shim cgroup \(id)")
            try? cgroups.remove(shimCgroup(id))
        }
        let liveContainers = Set(containers.withLock { Array($0.keys) })
        for id in (try? FileSystem.listDirectory(config.containersDataDir)) ?? [] where !liveContainers.contains(id) {
            logger.notice("removing orphaned writable layer of container \(id)")
            try? FileSystem.removeTree(config.containersDataDir + "/" + id)
            try? images.release(containerID: id)
        }
        let liveDirs = adopted.map { sandboxDir($0.id) }
        for point in Mounts.mountPoints(under: config.sandboxesDir) where !liveDirs.contains(where: { point.hasPrefix($0 + "/") }) {
            logger.notice("unmounting orphaned \(point)")
            try? Mounts.unmount(point)
        }
        await network.garbageCollect(valid: adopted.filter { $0.config.network != .node }.map(networkRequest))
    }

    /// `pod<uid>` cgroups below kubepods (directly, or under a QoS class).
    func podCgroups(under relative: String) -> [String] {
        var found: [String] = []
        let base = hierarchy.directory(relative)
        for name in (try? FileSystem.listDirectory(base)) ?? [] where FileSystem.isDirectory(base + "/" + name) {
            if name.hasPrefix("pod") { found.append(relative + "/" + name) }
            else if name == "burstable" || name == "besteffort" {
                for inner in (try? FileSystem.listDirectory(base + "/" + name)) ?? [] where inner.hasPrefix("pod") {
                    found.append(relative + "/" + name + "/" + inner)
                }
            }
        }
        return found
    }
}
