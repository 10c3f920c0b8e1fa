import ContainerStats
import CRIAPI
import Foundation
import LinuxNetlink
import Runtime

/// Container and pod stats for CRI from the stats module's snapshots (the same collectors that
/// serve /metrics/cadvisor and /stats/summary). A snapshot older than `maxAge`, or one that
/// does not know the container asked for yet, is refreshed by one housekeeping round.
final class CRIStats: Sendable {
    let service: StatsService?
    let maxAge: Double

    init(service: StatsService?, maxAge: Double = 1.0) {
        self.service = service
        self.maxAge = maxAge
    }

    func snapshot(containing containerID: String? = nil) async -> StatsSnapshot? {
        guard let service else { return nil }
        if let latest = service.latestSnapshot, Date().timeIntervalSince1970 - latest.time < maxAge,
           containerID.map({ id in latest.pods.contains { $0.containers.contains { $0.target.id == id } } }) ?? true {
            return latest
        }
        return await service.housekeepOnce()
    }

    // MARK: conversions

    static func nanos(_ seconds: Double) -> Int64 { Int64(seconds * 1e9) }

    static func value(_ v: UInt64) -> Runtime_V1_UInt64Value {
        var out = Runtime_V1_UInt64Value()
        out.value = v
        return out
    }

    static func psi(some: UInt64?, full: UInt64?) -> Runtime_V1_PsiStats? {
        guard some != nil || full != nil else { return nil }
        var p = Runtime_V1_PsiStats()
        if let some { p.some.total = some * 1000 }
        if let full { p.full.total = full * 1000 }
        return p
    }

    static func cpu(_ sample: CgroupSample, nanoCores: UInt64?, time: Double) -> Runtime_V1_CpuUsage? {
        guard let cpu = sample.cpu else { return nil }
        var out = Runtime_V1_CpuUsage()
        out.timestamp = nanos(time)
        out.usageCoreNanoSeconds = value(cpu.usageMicros * 1000)
        if let nanoCores { out.usageNanoCores = value(nanoCores) }
        if let psi = psi(some: sample.pressure?.cpuSome, full: sample.pressure?.cpuFull) { out.psi = psi }
        return out
    }

    static func memory(_ sample: CgroupSample, time: Double) -> Runtime_V1_MemoryUsage? {
        guard let memory = sample.memory else { return nil }
        var out = Runtime_V1_MemoryUsage()
        out.timestamp = nanos(time)
        if let ws = memory.workingSetBytes {
            out.workingSetBytes = value(ws)
            if let limit = memory.limitBytes { out.availableBytes = value(limit > ws ? limit - ws : 0) }
        }
        if let usage = memory.usageBytes { out.usageBytes = value(usage) }
        if let rss = memory.rssBytes { out.rssBytes = value(rss) }
        if let faults = memory.pageFaults { out.pageFaults = value(faults) }
        if let major = memory.majorPageFaults { out.majorPageFaults = value(major) }
        if let psi = psi(some: sample.pressure?.memorySome, full: sample.pressure?.memoryFull) { out.psi = psi }
        return out
    }

    static func containerStats(_ c: ContainerSnapshot, record: ContainerRecord, time: Double) -> Runtime_V1_ContainerStats {
        var out = Runtime_V1_ContainerStats()
        out.attributes.id = record.id
        out.attributes.metadata = ContainerConversions.metadata(record.config)
        out.attributes.labels = record.config.labels
        out.attributes.annotations = record.config.annotations
        if let cpu = cpu(c.sample, nanoCores: c.usageNanoCores, time: time) { out.cpu = cpu }
        if let memory = memory(c.sample, time: time) { out.memory = memory }
        if let swap = c.sample.memory?.swapBytes {
            out.swap.timestamp = nanos(time)
            out.swap.swapUsageBytes = value(swap)
        }
        if let psi = psi(some: c.sample.pressure?.ioSome, full: c.sample.pressure?.ioFull) {
            out.io.timestamp = nanos(time)
            out.io.psi = psi
        }
        if let rootfs = c.rootfs {
            out.writableLayer.timestamp = nanos(rootfs.usedTime ?? time)
            out.writableLayer.fsID.mountpoint = rootfs.path
            out.writableLayer.usedBytes = value(rootfs.used?.bytes ?? 0)
            out.writableLayer.inodesUsed = value(rootfs.used?.inodes ?? 0)
        }
        return out
    }

    static func network(_ usage: NetworkUsage?) -> Runtime_V1_NetworkUsage? {
        guard let usage else { return nil }
        var out = Runtime_V1_NetworkUsage()
        out.timestamp = nanos(usage.time)
        let interfaces = usage.interfaces.map { i -> Runtime_V1_NetworkInterfaceUsage in
            var n = Runtime_V1_NetworkInterfaceUsage()
            n.name = i.name
            n.rxBytes = value(i.rxBytes)
            n.rxErrors = value(i.rxErrors)
            n.txBytes = value(i.txBytes)
            n.txErrors = value(i.txErrors)
            return n
        }
        if let primary = interfaces.first(where: { $0.name == "eth0" }) ?? interfaces.first {
            out.defaultInterface = primary
            out.interfaces = interfaces.filter { $0.name != primary.name }
        }
        return out
    }

    static func podStats(_ pod: PodSnapshot, sandbox: SandboxRecord, containers: [String: ContainerRecord], time: Double) -> Runtime_V1_PodSandboxStats {
        var out = Runtime_V1_PodSandboxStats()
        out.attributes.id = sandbox.id
        out.attributes.metadata = SandboxConversions.metadata(sandbox.config)
        out.attributes.labels = sandbox.config.labels
        out.attributes.annotations = sandbox.config.annotations
        if let sample = pod.sample {
            if let cpu = cpu(sample, nanoCores: pod.usageNanoCores, time: time) { out.linux.cpu = cpu }
            if let memory = memory(sample, time: time) { out.linux.memory = memory }
            if let processes = sample.processes {
                out.linux.process.timestamp = nanos(time)
                out.linux.process.processCount = value(processes.processes)
            }
            if let psi = psi(some: sample.pressure?.ioSome, full: sample.pressure?.ioFull) {
                out.linux.io.timestamp = nanos(time)
                out.linux.io.psi = psi
            }
        }
        if let network = network(pod.network) { out.linux.network = network }
        out.linux.containers = pod.containers.compactMap { c in
            containers[c.target.id].map { containerStats(c, record: $0, time: time) }
        }
        return out
    }
}
