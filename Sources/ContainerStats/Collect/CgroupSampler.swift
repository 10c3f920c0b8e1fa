import LinuxPrimitives

/// Reads one cgroup's files into a `CgroupSample`. Every series has exactly one kernel source;
/// a file that does not exist (controller not enabled, hybrid host) leaves its part nil, and a
/// cgroup that has disappeared yields no sample at all.
///
/// Kept across rounds: an open descriptor per cgroup directory, so each file is one openat
/// without a path walk (dropped when the cgroup goes away), and which controllers the
/// hierarchy has at all, so files that cannot exist are not even tried (a hybrid host has no
/// memory, io or pids files anywhere on its cgroup2 mount).
final class CgroupSampler {
    let layout: CgroupLayout
    let devices: DeviceNames
    let processes: ProcessSampler
    private let hasMemory: Bool
    private let hasIO: Bool
    private let hasPids: Bool
    private let hasCPU: Bool
    private var directories: [String: FileDescriptor] = [:]
    private var usedThisRound: Set<String> = []
    /// cgroup.procs / cgroup.threads already read this round (a pod reads its containers').
    private var membership: [String: (pids: [Int32], threads: Int)] = [:]

    init(layout: CgroupLayout, devices: DeviceNames, processes: ProcessSampler) {
        self.layout = layout
        self.devices = devices
        self.processes = processes
        // An empty controller list means we could not read it: try everything.
        let all = layout.controllers.isEmpty
        hasMemory = all || layout.controllers.contains("memory")
        hasIO = all || layout.controllers.contains("io")
        hasPids = all || layout.controllers.contains("pids")
        hasCPU = all || layout.controllers.contains("cpu")
    }

    deinit {
        for fd in directories.values { fd.close() }
    }

    func startRound() {
        usedThisRound.removeAll(keepingCapacity: true)
        membership.removeAll(keepingCapacity: true)
    }

    /// Closes descriptors of cgroups nobody asked for this round.
    func endRound() {
        for (dir, fd) in directories where !usedThisRound.contains(dir) {
            fd.close()
            directories[dir] = nil
        }
    }

    private func directory(_ dir: String, fresh: Bool = false) -> FileDescriptor? {
        usedThisRound.insert(dir)
        if !fresh, let fd = directories[dir] { return fd }
        directories[dir]?.close()
        directories[dir] = nil
        guard let fd = try? KernelFile.openDirectory(dir) else { return nil }
        directories[dir] = fd
        return fd
    }

    /// - Parameter readLimits: also read cpu.max/cpu.weight/memory.* limits (pod cgroups,
    ///   whose limits are not handed in).
    func sample(_ cgroupPath: String, readLimits: Bool = false) -> CgroupSample? {
        let dir = layout.directory(of: cgroupPath)
        guard var fd = directory(dir) else { return nil }
        var sample = CgroupSample()
        func read(_ name: String) -> [UInt8]? {
            do { return try KernelFile.read(at: fd, name) } catch {
                sample.errors.append("\(error) (in \(dir))")
                return nil
            }
        }

        var procsBytes = read("cgroup.procs")
        if procsBytes == nil {
            // A cached descriptor may name a cgroup removed (and maybe recreated) since.
            guard let reopened = directory(dir, fresh: true) else { return nil }
            fd = reopened
            procsBytes = read("cgroup.procs")
        }
        guard let procsBytes else { return nil }  // gone (or never made)

        if let bytes = read("cpu.stat") {
            let values = KernelText.flatKeyed(bytes)
            if let usage = values["usage_usec"] {
                var cpu = CPUUsage(usageMicros: usage, userMicros: values["user_usec"] ?? 0, systemMicros: values["system_usec"] ?? 0)
                cpu.periods = values["nr_periods"]
                cpu.throttledPeriods = values["nr_throttled"]
                cpu.throttledMicros = values["throttled_usec"]
                cpu.burstPeriods = values["nr_bursts"]
                cpu.burstMicros = values["burst_usec"]
                sample.cpu = cpu
            }
        }

        var pressure = PressureTotals()
        var anyPressure = false
        if let bytes = read("cpu.pressure") {
            (pressure.cpuSome, pressure.cpuFull) = KernelText.pressure(bytes)
            anyPressure = true
        }
        if let bytes = read("memory.pressure") {
            (pressure.memorySome, pressure.memoryFull) = KernelText.pressure(bytes)
            anyPressure = true
        }
        if let bytes = read("io.pressure") {
            (pressure.ioSome, pressure.ioFull) = KernelText.pressure(bytes)
            anyPressure = true
        }
        if anyPressure { sample.pressure = pressure }

        // Processes and threads of the whole subtree (a pod includes its containers).
        var pids = KernelText.ids(procsBytes)
        var threads = read("cgroup.threads").map(KernelText.lineCount) ?? 0
        membership[dir] = (pids, threads)
        for child in descendants(of: dir, fd) {
            let members = membership[child] ?? childMembership(child)
            pids.append(contentsOf: members.pids)
            threads += members.threads
        }
        var usage = ProcessUsage(processes: UInt64(pids.count), threads: UInt64(threads))
        if hasPids, let bytes = read("pids.max"), case .value(let max)? = KernelText.singleValue(bytes) { usage.threadsMax = max }
        var fds: UInt64 = 0
        var sockets: UInt64 = 0
        var counted = false
        for pid in pids {
            guard let counts = processes.descriptorCounts(pid) else { continue }
            fds += UInt64(counts.descriptors)
            sockets += UInt64(counts.sockets)
            counted = true
        }
        if counted || pids.isEmpty {
            usage.fileDescriptors = fds
            usage.sockets = sockets
        }
        if let first = pids.min() { usage.openFilesSoftLimit = processes.openFilesSoftLimit(first) }
        sample.processes = usage

        if hasMemory, let currentBytes = read("memory.current"), case .value(let current)? = KernelText.singleValue(currentBytes) {
            sample.memory = cgroupMemory(current: current, read: read)
        } else {
            sample.memory = processes.fallbackMemory(pids)
        }

        if hasIO, let bytes = read("io.stat") {
            for (device, values) in KernelText.ioStat(bytes) {
                var io = IODeviceUsage(device: device, name: devices.blockDevice(device),
                                       readBytes: values["rbytes"] ?? 0, writeBytes: values["wbytes"] ?? 0,
                                       reads: values["rios"] ?? 0, writes: values["wios"] ?? 0)
                io.costUsageMicros = values["cost.usage"]
                io.costWaitMicros = values["cost.wait"]
                io.costIndebtMicros = values["cost.indebt"]
                io.costIndelayMicros = values["cost.indelay"]
                sample.io.append(io)
            }
        }

        if readLimits { sample.limits = limits(read: read) }
        return sample
    }

    private func childMembership(_ dir: String) -> (pids: [Int32], threads: Int) {
        let procs = ((try? KernelFile.read(dir + "/cgroup.procs")) ?? nil).map(KernelText.ids) ?? []
        let threads = ((try? KernelFile.read(dir + "/cgroup.threads")) ?? nil).map(KernelText.lineCount) ?? 0
        membership[dir] = (procs, threads)
        return (procs, threads)
    }

    private func cgroupMemory(current: UInt64, read: (String) -> [UInt8]?) -> MemoryUsage {
        var memory = MemoryUsage(source: .cgroup)
        memory.usageBytes = current
        let stat = read("memory.stat").map(KernelText.flatKeyed) ?? [:]
        let inactiveFile = stat["inactive_file"]
        memory.workingSetBytes = current > (inactiveFile ?? 0) ? current - (inactiveFile ?? 0) : 0
        memory.rssBytes = stat["anon"]
        memory.cacheBytes = stat["file"]
        memory.mappedFileBytes = stat["file_mapped"]
        memory.kernelBytes = stat["kernel"]
        memory.activeFileBytes = stat["active_file"]
        memory.inactiveFileBytes = inactiveFile
        memory.fileDirtyBytes = stat["file_dirty"]
        memory.fileWritebackBytes = stat["file_writeback"]
        memory.pgscan = stat["pgscan"]
        memory.pgsteal = stat["pgsteal"]
        memory.workingsetRefaultFile = stat["workingset_refault_file"]
        memory.workingsetRefaultAnon = stat["workingset_refault_anon"]
        memory.pageFaults = stat["pgfault"]
        memory.majorPageFaults = stat["pgmajfault"]
        if let bytes = read("memory.swap.current"), case .value(let swap)? = KernelText.singleValue(bytes) {
            memory.swapBytes = swap
        }
        if let bytes = read("memory.peak"), case .value(let peak)? = KernelText.singleValue(bytes) {
            memory.maxUsageBytes = peak
        }
        if let bytes = read("memory.events") {
            let events = KernelText.flatKeyed(bytes)
            memory.eventsMax = events["max"]
            memory.eventsHigh = events["high"]
            memory.oomKills = events["oom_kill"]
        }
        if let bytes = read("memory.max"), case .value(let limit)? = KernelText.singleValue(bytes) {
            memory.limitBytes = limit
        }
        return memory
    }

    private func limits(read: (String) -> [UInt8]?) -> CgroupLimits {
        var limits = CgroupLimits()
        guard hasCPU || hasMemory else { return limits }
        if hasCPU, let bytes = read("cpu.max") {
            let (quota, period) = KernelText.cpuMax(bytes)
            limits.cpuQuota = quota
            limits.cpuPeriod = period
        }
        if hasCPU, let bytes = read("cpu.weight"), case .value(let weight)? = KernelText.singleValue(bytes), weight >= 1 {
            // The inverse of the shares -> weight mapping runc and kubelet use.
            limits.cpuShares = 2 + ((weight - 1) * 262_142) / 9_999
        }
        guard hasMemory else { return limits }
        if let bytes = read("memory.max"), case .value(let value)? = KernelText.singleValue(bytes) { limits.memoryLimitBytes = value }
        if let bytes = read("memory.swap.max"), case .value(let value)? = KernelText.singleValue(bytes) { limits.memorySwapLimitBytes = value }
        if let bytes = read("memory.low"), case .value(let value)? = KernelText.singleValue(bytes) { limits.memoryReservationBytes = value }
        return limits
    }

    /// Every cgroup directory below `dir` (not `dir` itself).
    private func descendants(of dir: String, _ fd: FileDescriptor) -> [String] {
        var result: [String] = []
        var pending: [String] = []
        for name in KernelFile.subdirectories(of: fd) {
            result.append(dir + "/" + name)
            pending.append(dir + "/" + name)
        }
        while let next = pending.popLast() {
            for name in (try? KernelFile.subdirectories(next)) ?? [] {
                let child = next + "/" + name
                result.append(child)
                pending.append(child)
            }
        }
        return result
    }
}
