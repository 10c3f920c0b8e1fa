import ContainerStats
import Foundation
import LinuxPrimitives
import Runtime
import ShimProtocol

/// What the stats module samples, read from the runtime's records each housekeeping round:
/// every ready sandbox with its running containers (one per name: a restarted container's
/// old instance has exited), their cgroups, network namespace, writable layer, log directory
/// and emptyDir volumes, and the limits they were created with.
struct RuntimeStatsSource: StatsTargetSource {
    let runtime: RuntimeService
    let nodeName: String
    let rootDir: String
    let cgroupRoot: String

    func statsTargets() async -> StatsTargets {
        let containers = Dictionary(grouping: runtime.listContainers(), by: \.sandboxID)
        var pods: [PodTarget] = []
        for sandbox in runtime.listPodSandboxes() where sandbox.state == .ready {
            let sandboxDir = runtime.config.sandboxesDir + "/" + sandbox.id
            var running: [String: (ContainerTarget, Int64)] = [:]
            for record in containers[sandbox.id] ?? [] {
                guard let status = try? runtime.containerStatus(record.id), status.state == .running else { continue }
                if let existing = running[record.config.name], existing.1 > status.startedAt { continue }
                running[record.config.name] = (ContainerTarget(
                    name: record.config.name, id: record.id, image: record.config.image, cgroupPath: record.cgroupPath,
                    startTime: Double(status.startedAt) / 1e9, writableLayerPath: record.upperDir,
                    logPath: (record.logPath as NSString).deletingLastPathComponent, spec: Self.spec(record.config.resources)),
                    status.startedAt)
            }
            let emptyDirs = rootDir + "/pods/" + sandbox.config.uid + "/volumes/kubernetes.io~empty-dir"
            let volumes = ((try? FileSystem.listDirectory(emptyDirs)) ?? []).sorted().map { VolumeTarget(name: $0, path: emptyDirs + "/" + $0) }
            pods.append(PodTarget(
                namespace: sandbox.config.namespace, name: sandbox.config.name, uid: sandbox.config.uid, cgroupPath: sandbox.cgroupPath,
                startTime: Double(sandbox.createdAt) / 1e9,
                networkNamespacePath: sandbox.config.network == .node ? nil : ShimProtocol.Paths.namespace(sandboxDir, .net),
                volumes: volumes, containers: running.values.map(\.0).sorted { $0.name < $1.name }))
        }
        let images = rootDir + "/images"
        return StatsTargets(pods: pods, systemContainers: [SystemContainerTarget(name: "pods", cgroupPath: cgroupRoot)],
                            node: NodeTarget(nodeName: nodeName, rootDirectory: rootDir,
                                             imageDirectory: FileSystem.isDirectory(images) ? images : nil))
    }

    /// The container's spec limits; cpu.weight is shown as the shares it was derived from.
    static func spec(_ resources: ContainerResources) -> ContainerSpecLimits {
        ContainerSpecLimits(
            cpuQuota: resources.cpuQuota, cpuPeriod: UInt64(max(0, resources.cpuPeriod ?? 100_000)),
            cpuShares: resources.cpuWeight.map { 2 + (max(1, $0) - 1) * 262_142 / 9_999 },
            memoryLimitBytes: resources.memoryLimit.map { UInt64(max(0, $0)) })
    }
}
