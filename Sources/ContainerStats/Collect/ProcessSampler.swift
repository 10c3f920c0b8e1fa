import LinuxPrimitives

/// Per-process facts a round needs (descriptors, sockets, RLIMIT_NOFILE, smaps_rollup), read
/// at most once per process per round: a pod's cgroup and its containers' cgroups share the
/// same processes, and the pod total reuses what the containers already read.
final class ProcessSampler {
    struct Memory: Equatable {
        var pss: UInt64
        var pssAnon: UInt64?
        var pssFile: UInt64?
        var swapPss: UInt64?
    }

    private var descriptors: [Int32: ProcessDescriptors.Counts?] = [:]
    private var memory: [Int32: Memory?] = [:]
    /// RLIMIT_NOFILE by pid, re-read once a minute (limits change rarely, and formatting
    /// /proc/PID/limits is one of the dearer reads per container).
    private var openFileLimits: [Int32: (value: UInt64?, readAt: UInt64)] = [:]
    private static let limitsMaxAge: UInt64 = 60_000_000_000
    var errors: [String] = []

    /// Forget everything: processes come and go between rounds.
    func startRound() {
        descriptors.removeAll(keepingCapacity: true)
        memory.removeAll(keepingCapacity: true)
        errors.removeAll()
    }

    /// nil when the process has gone.
    func descriptorCounts(_ pid: Int32) -> ProcessDescriptors.Counts? {
        if let known = descriptors[pid] { return known }
        var counts: ProcessDescriptors.Counts?
        do { counts = try ProcessDescriptors.count(pid: pid) } catch { errors.append("\(error)") }
        descriptors[pid] = counts
        return counts
    }

    /// Proportional memory from /proc/PID/smaps_rollup; nil when the process has gone or the
    /// kernel does not provide it.
    func memoryUsage(_ pid: Int32) -> Memory? {
        if let known = memory[pid] { return known }
        var result: Memory?
        do {
            if let bytes = try KernelFile.read("/proc/\(pid)/smaps_rollup") {
                let values = KernelText.colonKeyed(bytes)
                if let pss = values["Pss"] {
                    result = Memory(pss: pss, pssAnon: values["Pss_Anon"], pssFile: values["Pss_File"], swapPss: values["SwapPss"])
                }
            }
        } catch {
            errors.append("\(error)")
        }
        memory[pid] = result
        return result
    }

    func openFilesSoftLimit(_ pid: Int32) -> UInt64? {
        let now = HostConstants.monotonicNanoseconds()
        if let cached = openFileLimits[pid], now - cached.readAt < Self.limitsMaxAge {
            return cached.value
        }
        let value = ((try? KernelFile.read("/proc/\(pid)/limits")) ?? nil).flatMap(KernelText.openFilesSoftLimit)
        openFileLimits[pid] = (value, now)
        return value
    }

    /// Drops cached limits of processes not seen this round (pids get reused).
    func endRound() {
        openFileLimits = openFileLimits.filter { (descriptors[$0.key] ?? nil) != nil }
    }

    /// Σ smaps_rollup over `pids` as a memory sample (see `MemorySource.processes`).
    func fallbackMemory(_ pids: [Int32]) -> MemoryUsage {
        var usage = MemoryUsage(source: .processes)
        var pss: UInt64 = 0
        var anon: UInt64? = 0
        var file: UInt64? = 0
        var swap: UInt64? = 0
        for pid in pids {
            guard let m = memoryUsage(pid) else { continue }
            pss &+= m.pss
            anon = anon.flatMap { total in m.pssAnon.map { total &+ $0 } }
            file = file.flatMap { total in m.pssFile.map { total &+ $0 } }
            swap = swap.flatMap { total in m.swapPss.map { total &+ $0 } }
        }
        usage.usageBytes = pss
        usage.workingSetBytes = pss
        usage.rssBytes = anon
        usage.mappedFileBytes = file
        usage.swapBytes = swap
        return usage
    }
}
