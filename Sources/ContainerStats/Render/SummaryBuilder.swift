import Foundation

extension SummaryAPI {
    public static let contentType = "application/json"

    /// Summary JSON for `/stats/summary`; `onlyCPUAndMemory` is kubelet's
    /// `?only_cpu_and_memory=true` (what metrics-server asks for).
    public static func render(_ snapshot: StatsSnapshot, onlyCPUAndMemory: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let summary = build(snapshot, onlyCPUAndMemory: onlyCPUAndMemory)
        return (try? Array(encoder.encode(summary))) ?? Array("{}".utf8)
    }

    public static func build(_ snapshot: StatsSnapshot, onlyCPUAndMemory: Bool = false) -> Summary {
        let time = RFC3339.format(snapshot.time)
        let node = snapshot.node
        var nodeStats = NodeStats(nodeName: node.target.nodeName, startTime: RFC3339.format(node.startTime))
        nodeStats.cpu = cpu(node.cpu, node.usageNanoCores, time)
        nodeStats.memory = memory(node.memory, limit: node.memoryTotalBytes, time)
        nodeStats.systemContainers = node.systemContainers.map { system in
            ContainerStats(name: system.target.name, startTime: RFC3339.format(node.startTime),
                           cpu: cpu(system.sample.cpu, system.usageNanoCores, time),
                           memory: memory(system.sample.memory, limit: system.sample.memory?.limitBytes, time))
        }
        if !onlyCPUAndMemory {
            nodeStats.network = network(node.network)
            nodeStats.fs = node.rootFilesystem.map { fs($0, time) }
            if node.imageFilesystem != nil || node.rootFilesystem != nil {
                let imageFs = (node.imageFilesystem ?? node.rootFilesystem).map { fs($0, time) }
                nodeStats.runtime = RuntimeStats(imageFs: imageFs, containerFs: imageFs)
            }
            nodeStats.rlimit = RlimitStats(time: time, maxpid: node.maxPID, curproc: node.currentProcesses)
            nodeStats.swap = swap(node.memory, capacity: snapshot.machine.swapCapacity, time)
        }

        let pods = snapshot.pods.map { pod -> PodStats in
            let containers = pod.containers.map { container -> ContainerStats in
                var stats = ContainerStats(name: container.target.name, startTime: RFC3339.format(container.target.startTime),
                                           cpu: cpu(container.sample.cpu, container.usageNanoCores, time),
                                           memory: memory(container.sample.memory, limit: container.target.spec.memoryLimitBytes, time))
                if !onlyCPUAndMemory {
                    stats.rootfs = container.rootfs.map { fs($0, time) }
                    stats.logs = container.logs.map { fs($0, time) }
                }
                return stats
            }
            var stats = PodStats(podRef: PodReference(name: pod.target.name, namespace: pod.target.namespace, uid: pod.target.uid),
                                 startTime: RFC3339.format(pod.target.startTime), containers: containers)
            stats.cpu = cpu(pod.sample?.cpu, pod.usageNanoCores, time)
            stats.memory = memory(pod.sample?.memory, limit: pod.sample?.limits?.memoryLimitBytes, time)
            if !onlyCPUAndMemory {
                stats.network = network(pod.network)
                let volumes = pod.volumes.map { volume -> VolumeStats in
                    let f = fs(volume.usage, time)
                    return VolumeStats(time: f.time, availableBytes: f.availableBytes, capacityBytes: f.capacityBytes,
                                       usedBytes: f.usedBytes, inodesFree: f.inodesFree, inodes: f.inodes, inodesUsed: f.inodesUsed,
                                       name: volume.name)
                }
                stats.volume = volumes.isEmpty ? nil : volumes
                stats.ephemeralStorage = ephemeralStorage(pod, time)
                stats.processStats = pod.sample?.processes.map { ProcessStats(processCount: $0.processes) }
                stats.swap = pod.sample?.memory?.swapBytes.map { SwapStats(time: time, swapAvailableBytes: nil, swapUsageBytes: $0) }
            }
            return stats
        }
        return Summary(node: nodeStats, pods: pods)
    }

    static func cpu(_ cpu: CPUUsage?, _ nanoCores: UInt64?, _ time: String) -> CPUStats? {
        guard let cpu else { return nil }
        return CPUStats(time: time, usageNanoCores: nanoCores, usageCoreNanoSeconds: cpu.usageMicros &* 1000)
    }

    static func memory(_ memory: MemoryUsage?, limit: UInt64?, _ time: String) -> MemoryStats? {
        guard let memory else { return nil }
        var available: UInt64?
        if let limit, let workingSet = memory.workingSetBytes {
            available = limit > workingSet ? limit - workingSet : 0
        }
        return MemoryStats(time: time, availableBytes: available, usageBytes: memory.usageBytes, workingSetBytes: memory.workingSetBytes,
                           rssBytes: memory.rssBytes, pageFaults: memory.pageFaults, majorPageFaults: memory.majorPageFaults)
    }

    static func swap(_ memory: MemoryUsage?, capacity: UInt64, _ time: String) -> SwapStats? {
        guard let used = memory?.swapBytes else { return nil }
        return SwapStats(time: time, swapAvailableBytes: capacity > used ? capacity - used : 0, swapUsageBytes: used)
    }

    /// Top-level fields describe eth0 (kubelet's default interface), or the first interface.
    static func network(_ usage: NetworkUsage?) -> NetworkStats? {
        guard let usage else { return nil }
        let interfaces = usage.interfaces.map {
            InterfaceStats(name: $0.name, rxBytes: $0.rxBytes, rxErrors: $0.rxErrors, txBytes: $0.txBytes, txErrors: $0.txErrors)
        }
        let time = RFC3339.format(usage.time)
        guard let main = interfaces.first(where: { $0.name == "eth0" }) ?? interfaces.first else {
            return NetworkStats(time: time, name: "", interfaces: [])
        }
        return NetworkStats(time: time, name: main.name, rxBytes: main.rxBytes, rxErrors: main.rxErrors, txBytes: main.txBytes,
                            txErrors: main.txErrors, interfaces: interfaces)
    }

    static func fs(_ usage: FilesystemUsage, _ time: String) -> FsStats {
        FsStats(time: usage.usedTime.map { RFC3339.format($0) } ?? time,
                availableBytes: usage.capacity.availableBytes, capacityBytes: usage.capacity.capacityBytes,
                usedBytes: usage.used?.bytes, inodesFree: usage.capacity.inodesFree, inodes: usage.capacity.inodes,
                inodesUsed: usage.used?.inodes)
    }

    /// Writable layers + logs + pod-local volumes, on the filesystem of the first of them.
    static func ephemeralStorage(_ pod: PodSnapshot, _ time: String) -> FsStats? {
        let parts = pod.containers.flatMap { [$0.rootfs, $0.logs].compactMap { $0 } } + pod.volumes.map(\.usage)
        guard let first = parts.first else { return nil }
        let measured = parts.compactMap(\.used)
        return FsStats(time: time, availableBytes: first.capacity.availableBytes, capacityBytes: first.capacity.capacityBytes,
                       usedBytes: measured.isEmpty ? nil : measured.reduce(0) { $0 + $1.bytes },
                       inodesFree: first.capacity.inodesFree, inodes: first.capacity.inodes,
                       inodesUsed: measured.isEmpty ? nil : measured.reduce(0) { $0 + $1.inodes })
    }
}

/// `/spec`: cAdvisor's MachineInfo JSON (plus `kernel_version` and `os_image`).
public enum MachineSpec {
    public static let contentType = "application/json"

    public static func render(_ machine: MachineInfo) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(machine))) ?? Array("{}".utf8)
    }
}
