import LinuxNetlink
import LinuxPrimitives
@testable import ContainerStats

/// Hand-made snapshots for renderer tests (pure logic; the real collectors are proven by the
/// root tests against real cgroups).
enum SyntheticSnapshot {
    static let machine = MachineInfo(
        timestamp: 1_700_000_000, numCores: 4, numPhysicalCores: 2, numSockets: 1, cpuFrequencyKHz: 2_000_000,
        memoryCapacity: 8 << 30, swapCapacity: 0, machineID: "abc", systemUUID: "uuid-1", bootID: "boot-1",
        kernelVersion: "6.1.0", osImage: "Debian GNU/Linux 12 (bookworm)", bootTime: 1_699_000_000,
        filesystems: [], diskMap: [:], networkDevices: [], topology: [])

    static func sample(cpuMicros: UInt64, workingSet: UInt64, full: Bool) -> CgroupSample {
        var sample = CgroupSample()
        var cpu = CPUUsage(usageMicros: cpuMicros, userMicros: cpuMicros / 2, systemMicros: cpuMicros / 2)
        var memory = MemoryUsage(source: full ? .cgroup : .processes)
        memory.usageBytes = workingSet + 4096
        memory.workingSetBytes = workingSet
        memory.rssBytes = workingSet
        memory.swapBytes = 0
        if full {
            cpu.periods = 10
            cpu.throttledPeriods = 2
            cpu.throttledMicros = 1_500
            memory.cacheBytes = 4096
            memory.inactiveFileBytes = 4096
            memory.eventsMax = 1
            memory.oomKills = 0
            memory.pageFaults = 100
            memory.majorPageFaults = 1
            sample.io = [IODeviceUsage(device: DeviceNumber(major: 254, minor: 0), name: "/dev/vda", readBytes: 10, writeBytes: 20, reads: 1, writes: 2)]
        }
        sample.cpu = cpu
        sample.memory = memory
        var pressure = PressureTotals()
        pressure.cpuSome = 10
        pressure.cpuFull = 5
        sample.pressure = pressure
        var processes = ProcessUsage(processes: 2, threads: 3)
        processes.fileDescriptors = 7
        processes.sockets = 1
        processes.openFilesSoftLimit = 1024
        sample.processes = processes
        return sample
    }

    static func make(pods count: Int, containersPerPod: Int = 1, full: Bool = true, namespace: String = "default") -> StatsSnapshot {
        let capacity = FilesystemCapacity(capacityBytes: 100 << 30, availableBytes: 50 << 30, freeBytes: 55 << 30, inodes: 1000, inodesFree: 500)
        var pods: [PodSnapshot] = []
        for i in 0..<count {
            let podPath = "/kubepods/pod-\(i)"
            var containers: [ContainerSnapshot] = []
            for c in 0..<containersPerPod {
                let target = ContainerTarget(name: "c\(c)", id: "cid-\(i)-\(c)", image: "example.com/app:v\(c)",
                                             cgroupPath: podPath + "/cid-\(i)-\(c)", startTime: 1_700_000_100,
                                             writableLayerPath: "/var/lib/x/\(i)/\(c)", logPath: "/var/log/pods/\(i)",
                                             spec: ContainerSpecLimits(cpuQuota: 50_000, memoryLimitBytes: 1 << 30))
                let rootfs = FilesystemUsage(path: "/var/lib/x", device: "/dev/vda", capacity: capacity,
                                             used: .init(bytes: 8192, inodes: 3), usedTime: 1_700_000_000)
                containers.append(ContainerSnapshot(target: target, sample: sample(cpuMicros: 1_234_567, workingSet: 10 << 20, full: full),
                                                    usageNanoCores: 250_000_000, rootfs: rootfs, logs: rootfs))
            }
            var link = InterfaceCounters(index: 2, name: "eth0", isUp: true, isLoopback: false)
            link.rxBytes = 1000
            link.txBytes = 2000
            var podSample = sample(cpuMicros: 2_000_000, workingSet: 11 << 20, full: full)
            var limits = CgroupLimits()
            limits.cpuQuota = 100_000
            limits.cpuPeriod = 100_000
            podSample.limits = limits
            let pod = PodTarget(namespace: namespace, name: "pod-\(i)", uid: "uid-\(i)", cgroupPath: podPath, startTime: 1_700_000_050)
            pods.append(PodSnapshot(target: pod, sample: podSample, usageNanoCores: 300_000_000, containers: containers,
                                    network: NetworkUsage(interfaces: [link], time: 1_700_000_000),
                                    volumes: [(name: "scratch", usage: FilesystemUsage(path: "/v", device: "/dev/vda", capacity: capacity,
                                                                                       used: .init(bytes: 4096, inodes: 1), usedTime: nil))]))
        }
        var node = NodeSnapshot(target: NodeTarget(nodeName: "node-a", rootDirectory: "/"), startTime: 1_699_000_000,
                                mountedFilesystems: [], systemContainers: [], errors: [])
        node.cpu = CPUUsage(usageMicros: 99_000_000, userMicros: 60_000_000, systemMicros: 39_000_000)
        var memory = MemoryUsage(source: .meminfo)
        memory.usageBytes = 4 << 30
        memory.workingSetBytes = 3 << 30
        node.memory = memory
        node.memoryTotalBytes = 8 << 30
        return StatsSnapshot(time: 1_700_000_000.25, machine: machine, node: node, pods: pods, collectionSeconds: 0.01)
    }
}
