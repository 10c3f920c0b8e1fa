import LinuxPrimitives

/// One housekeeping round: asks the target source what exists, samples every cgroup, pod
/// network namespace and filesystem, and returns an immutable snapshot. State carried between
/// rounds: previous CPU samples (for usageNanoCores), per-pod netlink sockets, device names.
/// Directory walks are not done here but read from the `FilesystemUsageTracker`.
actor Housekeeper {
    let layout: CgroupLayout
    let machine: MachineInfo
    let filesystems: FilesystemUsageTracker
    private let devices: DeviceNames
    private let processes = ProcessSampler()
    private let network = NetworkSampler()
    private let sampler: CgroupSampler
    private var previousCPU: [String: (usageMicros: UInt64, monotonic: UInt64)] = [:]

    init(layout: CgroupLayout, filesystems: FilesystemUsageTracker) {
        self.layout = layout
        self.filesystems = filesystems
        let devices = DeviceNames()
        self.devices = devices
        self.machine = MachineInfoReader.read(devices: devices)
        self.sampler = CgroupSampler(layout: layout, devices: devices, processes: processes)
    }

    var openNetworkSockets: Int { network.openSockets }

    func round(_ targets: StatsTargets) async -> StatsSnapshot {
        let started = HostConstants.monotonicNanoseconds()
        let time = HostConstants.wallClockSeconds()
        devices.round += 1
        processes.startRound()
        sampler.startRound()
        defer {
            sampler.endRound()
            processes.endRound()
        }

        var tracked: Set<String> = []
        for pod in targets.pods {
            for volume in pod.volumes { tracked.insert(volume.path) }
            for container in pod.containers {
                if let path = container.writableLayerPath { tracked.insert(path) }
                if let path = container.logPath { tracked.insert(path) }
            }
        }
        if let images = targets.node.imageDirectory { tracked.insert(images) }
        await filesystems.track(tracked)
        let walked = await filesystems.results()
        var capacities: [DeviceNumber: (device: String, capacity: FilesystemCapacity)] = [:]
        func usage(of path: String?) -> FilesystemUsage? {
            guard let path, let device = try? DeviceNumber.of(path) else { return nil }
            if capacities[device] == nil, let capacity = try? FilesystemCapacity.of(path) {
                capacities[device] = (devices.filesystemDevice(device), capacity)
            }
            guard let fs = capacities[device] else { return nil }
            let result = walked[path]
            return FilesystemUsage(path: path, device: fs.device, capacity: fs.capacity, used: result?.usage, usedTime: result?.time)
        }

        var seenCPU: Set<String> = []
        func nanoCores(_ id: String, _ cpu: CPUUsage?) -> UInt64? {
            guard let cpu else { return nil }
            seenCPU.insert(id)
            let now = HostConstants.monotonicNanoseconds()
            defer { previousCPU[id] = (cpu.usageMicros, now) }
            guard let previous = previousCPU[id], now > previous.monotonic, cpu.usageMicros >= previous.usageMicros else { return nil }
            let usedNanos = Double(cpu.usageMicros - previous.usageMicros) * 1000
            return UInt64(usedNanos * 1e9 / Double(now - previous.monotonic))
        }

        var pods: [PodSnapshot] = []
        var podUIDs: Set<String> = []
        for pod in targets.pods {
            podUIDs.insert(pod.uid)
            var containers: [ContainerSnapshot] = []
            for container in pod.containers {
                guard !container.cgroupPath.isEmpty, let sample = sampler.sample(container.cgroupPath) else { continue }
                let id = CgroupLayout.normalize(container.cgroupPath)
                containers.append(ContainerSnapshot(
                    target: container, sample: sample, usageNanoCores: nanoCores(id, sample.cpu),
                    rootfs: usage(of: container.writableLayerPath), logs: usage(of: container.logPath)))
            }
            var podSample: CgroupSample?
            var podNanoCores: UInt64?
            if !pod.cgroupPath.isEmpty, let sample = sampler.sample(pod.cgroupPath, readLimits: true) {
                podSample = sample
                podNanoCores = nanoCores(CgroupLayout.normalize(pod.cgroupPath), sample.cpu)
            }
            var networkUsage: NetworkUsage?
            if let path = pod.networkNamespacePath {
                do {
                    networkUsage = try network.samplePod(uid: pod.uid, namespacePath: path, time: time)
                } catch {
                    podSample?.errors.append("network of pod \(pod.namespace)/\(pod.name): \(error)")
                }
            }
            let volumes = pod.volumes.compactMap { volume in usage(of: volume.path).map { (name: volume.name, usage: $0) } }
            pods.append(PodSnapshot(target: pod, sample: podSample, usageNanoCores: podNanoCores, containers: containers,
                                 network: networkUsage, volumes: volumes))
        }
        network.retain(only: podUIDs)

        var node = NodeSnapshot(target: targets.node, startTime: machine.bootTime, mountedFilesystems: [],
                             systemContainers: [], errors: [])
        node.cpu = nodeCPU()
        node.usageNanoCores = nanoCores("/", node.cpu)
        (node.memory, node.memoryTotalBytes) = nodeMemory()
        node.pressure = nodePressure()
        do { node.network = try network.sampleNode(time: time) } catch { node.errors.append("node network: \(error)") }
        node.rootFilesystem = usage(of: targets.node.rootDirectory).map(Self.wholeFilesystem)
        node.imageFilesystem = usage(of: targets.node.imageDirectory)
        for (device, mountPoint) in devices.mountedBlockFilesystems() {
            guard let capacity = try? FilesystemCapacity.of(mountPoint) else { continue }
            node.mountedFilesystems.append(Self.wholeFilesystem(FilesystemUsage(
                path: mountPoint, device: devices.filesystemDevice(device), capacity: capacity, used: nil, usedTime: nil)))
        }
        for system in targets.systemContainers {
            guard let sample = sampler.sample(system.cgroupPath) else { continue }
            let id = CgroupLayout.normalize(system.cgroupPath)
            node.systemContainers.append(SystemContainerSnapshot(target: system, sample: sample, usageNanoCores: nanoCores(id, sample.cpu)))
        }
        if let bytes = (try? KernelFile.read("/proc/sys/kernel/pid_max")) ?? nil { node.maxPID = KernelText.number(bytes) }
        if let bytes = (try? KernelFile.read("/proc/loadavg")) ?? nil { node.currentProcesses = KernelText.loadavgTasks(bytes) }
        node.errors.append(contentsOf: processes.errors)

        previousCPU = previousCPU.filter { seenCPU.contains($0.key) }
        let elapsed = Double(HostConstants.monotonicNanoseconds() - started) / 1e9
        return StatsSnapshot(time: time, machine: machine, node: node, pods: pods, collectionSeconds: elapsed)
    }

    /// A whole filesystem's usage: used = capacity − free, as for the node and "/" series.
    static func wholeFilesystem(_ fs: FilesystemUsage) -> FilesystemUsage {
        var result = fs
        result.used = DirectoryUsageWalker.Usage(bytes: fs.capacity.capacityBytes - min(fs.capacity.capacityBytes, fs.capacity.freeBytes),
                                                 inodes: fs.capacity.inodes - min(fs.capacity.inodes, fs.capacity.inodesFree))
        result.usedTime = nil
        return result
    }

    /// Root cgroup cpu.stat (system-wide on cgroup2), else the busy time in /proc/stat.
    private func nodeCPU() -> CPUUsage? {
        if let bytes = (try? KernelFile.read(layout.mountPoint + "/cpu.stat")) ?? nil {
            let values = KernelText.flatKeyed(bytes)
            if let usage = values["usage_usec"] {
                return CPUUsage(usageMicros: usage, userMicros: values["user_usec"] ?? 0, systemMicros: values["system_usec"] ?? 0)
            }
        }
        guard let bytes = (try? KernelFile.read("/proc/stat")) ?? nil, let ticks = KernelText.procStatCPU(bytes) else { return nil }
        let microsPerTick = UInt64(1_000_000 / HostConstants.clockTicksPerSecond)
        return CPUUsage(usageMicros: ticks.busy * microsPerTick, userMicros: ticks.user * microsPerTick,
                        systemMicros: ticks.system * microsPerTick)
    }

    private func nodeMemory() -> (MemoryUsage?, UInt64?) {
        guard let bytes = (try? KernelFile.read("/proc/meminfo")) ?? nil else { return (nil, nil) }
        let info = KernelText.colonKeyed(bytes)
        guard let total = info["MemTotal"], let free = info["MemFree"] else { return (nil, nil) }
        var memory = MemoryUsage(source: .meminfo)
        let used = total - min(total, free)
        let inactiveFile = info["Inactive(file)"] ?? 0
        memory.usageBytes = used
        memory.workingSetBytes = used - min(used, inactiveFile)
        memory.rssBytes = info["AnonPages"]
        memory.cacheBytes = info["Cached"]
        memory.mappedFileBytes = info["Mapped"]
        memory.activeFileBytes = info["Active(file)"]
        memory.inactiveFileBytes = info["Inactive(file)"]
        memory.fileDirtyBytes = info["Dirty"]
        memory.fileWritebackBytes = info["Writeback"]
        if let swapTotal = info["SwapTotal"], let swapFree = info["SwapFree"] { memory.swapBytes = swapTotal - min(swapTotal, swapFree) }
        if let vmstat = (try? KernelFile.read("/proc/vmstat")) ?? nil {
            let values = KernelText.flatKeyed(vmstat)
            memory.pageFaults = values["pgfault"]
            memory.majorPageFaults = values["pgmajfault"]
        }
        return (memory, total)
    }

    private func nodePressure() -> PressureTotals? {
        var pressure = PressureTotals()
        var any = false
        if let bytes = (try? KernelFile.read("/proc/pressure/cpu")) ?? nil { (pressure.cpuSome, pressure.cpuFull) = KernelText.pressure(bytes); any = true }
        if let bytes = (try? KernelFile.read("/proc/pressure/memory")) ?? nil { (pressure.memorySome, pressure.memoryFull) = KernelText.pressure(bytes); any = true }
        if let bytes = (try? KernelFile.read("/proc/pressure/io")) ?? nil { (pressure.ioSome, pressure.ioFull) = KernelText.pressure(bytes); any = true }
        return any ? pressure : nil
    }
}
