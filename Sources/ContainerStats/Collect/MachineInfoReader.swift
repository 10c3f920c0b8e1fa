import LinuxPrimitives

/// Reads `MachineInfo` from procfs, sysfs and /etc. Missing sources give empty strings or
/// zeros in the JSON (as cAdvisor does); the `machine_*` gauges it feeds are only emitted for
/// values that were found.
enum MachineInfoReader {
    static func read(devices: DeviceNames) -> MachineInfo {
        let meminfo = (try? KernelFile.read("/proc/meminfo")).flatMap { $0 }.map(KernelText.colonKeyed) ?? [:]
        let topology = cpuTopology()
        let logical = topology.reduce(0) { $0 + $1.cores.reduce(0) { $0 + $1.threadIDs.count } }
        let physical = topology.reduce(0) { $0 + $1.cores.count }
        let sockets = Set(topology.flatMap { $0.cores.map(\.socketID) }).count
        let os = text("/etc/os-release").map { KernelText.osRelease(Array($0.utf8)) } ?? [:]

        var bootTime = 0.0
        if let stat = try? KernelFile.read("/proc/stat") {
            for line in KernelText.lines(stat) where line.starts(with: "btime ".utf8) {
                bootTime = Double(KernelText.number(line.dropFirst(6)) ?? 0)
            }
        }

        return MachineInfo(
            timestamp: HostConstants.wallClockSeconds(),
            numCores: logical,
            numPhysicalCores: physical,
            numSockets: sockets,
            cpuFrequencyKHz: cpuFrequencyKHz(),
            memoryCapacity: meminfo["MemTotal"] ?? 0,
            swapCapacity: meminfo["SwapTotal"] ?? 0,
            machineID: text("/etc/machine-id") ?? text("/var/lib/dbus/machine-id") ?? "",
            systemUUID: text("/sys/class/dmi/id/product_uuid") ?? "",
            bootID: text("/proc/sys/kernel/random/boot_id") ?? "",
            kernelVersion: text("/proc/sys/kernel/osrelease") ?? "",
            osImage: os["PRETTY_NAME"] ?? "",
            bootTime: bootTime,
            filesystems: filesystems(devices),
            diskMap: disks(),
            networkDevices: networkDevices(),
            topology: topology)
    }

    /// A small text file, trimmed; nil when absent or empty.
    static func text(_ path: String) -> String? {
        guard let bytes = (try? KernelFile.read(path)) ?? nil else { return nil }
        let trimmed = KernelText.string(bytes).trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    static func number(_ path: String) -> Int? {
        guard let bytes = (try? KernelFile.read(path)) ?? nil, let value = KernelText.number(bytes) else { return nil }
        return Int(clamping: value)
    }

    /// CPUs grouped by NUMA node and core, from /sys/devices/system/cpu/cpuN/topology.
    static func cpuTopology() -> [MachineInfo.Node] {
        let base = "/sys/devices/system/cpu"
        let cpus = ((try? FileSystem.listDirectory(base)) ?? []).compactMap { name -> Int? in
            guard name.hasPrefix("cpu") else { return nil }
            return Int(name.dropFirst(3))
        }.sorted()
        struct Key: Hashable { var node: Int; var socket: Int; var core: Int }
        var threads: [Key: [Int]] = [:]
        for cpu in cpus {
            let dir = "\(base)/cpu\(cpu)"
            // Offline CPUs have no topology directory.
            guard let core = number(dir + "/topology/core_id") else { continue }
            let socket = number(dir + "/topology/physical_package_id") ?? 0
            let entries = (try? FileSystem.listDirectory(dir)) ?? []
            let node = entries.compactMap { $0.hasPrefix("node") ? Int($0.dropFirst(4)) : nil }.first ?? 0
            threads[Key(node: node, socket: socket, core: core), default: []].append(cpu)
        }
        var nodes: [Int: [MachineInfo.Core]] = [:]
        for (key, ids) in threads {
            nodes[key.node, default: []].append(MachineInfo.Core(coreID: key.core, threadIDs: ids.sorted(), socketID: key.socket))
        }
        return nodes.keys.sorted().map { id in
            var memory: UInt64 = 0
            if let bytes = (try? KernelFile.read("/sys/devices/system/node/node\(id)/meminfo")) ?? nil {
                for line in KernelText.lines(bytes) where line.firstRange(of: "MemTotal:".utf8) != nil {
                    let fields = KernelText.fields(line)
                    if fields.count >= 4 { memory = (KernelText.number(fields[3]) ?? 0) * 1024 }
                }
            }
            let cores = (nodes[id] ?? []).sorted { ($0.socketID, $0.coreID) < ($1.socketID, $1.coreID) }
            return MachineInfo.Node(id: id, memory: memory, cores: cores)
        }
    }

    static func cpuFrequencyKHz() -> UInt64 {
        if let khz = number("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") { return UInt64(khz) }
        guard let bytes = (try? KernelFile.read("/proc/cpuinfo")) ?? nil else { return 0 }
        for line in KernelText.lines(bytes) where line.starts(with: "cpu MHz".utf8) {
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let value = KernelText.string(line[(colon + 1)...]).trimmingWhitespace()
            if let mhz = Double(value) { return UInt64(mhz * 1000) }
        }
        return 0
    }

    static func filesystems(_ devices: DeviceNames) -> [MachineInfo.Filesystem] {
        guard let bytes = (try? KernelFile.read("/proc/self/mountinfo")) ?? nil else { return [] }
        var seen: Set<DeviceNumber> = []
        var result: [MachineInfo.Filesystem] = []
        for mount in KernelText.mountinfo(bytes) where mount.device.major != 0 && mount.source.hasPrefix("/dev/") {
            guard seen.insert(mount.device).inserted, let capacity = try? FilesystemCapacity.of(mount.mountPoint) else { continue }
            result.append(MachineInfo.Filesystem(device: devices.filesystemDevice(mount.device), capacity: capacity.capacityBytes,
                                                 type: mount.fsType, inodes: capacity.inodes, hasInodes: capacity.inodes > 0))
        }
        return result
    }

    /// Whole disks from /proc/partitions (partitions have a "partition" file in sysfs).
    static func disks() -> [String: MachineInfo.Disk] {
        guard let bytes = (try? KernelFile.read("/proc/partitions")) ?? nil else { return [:] }
        var result: [String: MachineInfo.Disk] = [:]
        for line in KernelText.lines(bytes) {
            let fields = KernelText.fields(line)
            guard fields.count >= 4, let major = KernelText.number(fields[0]), let minor = KernelText.number(fields[1]),
                  let blocks = KernelText.number(fields[2]) else { continue }
            let name = KernelText.string(fields[3])
            guard FileSystem.exists("/sys/block/\(name)") else { continue }
            var scheduler = "none"
            if let text = text("/sys/block/\(name)/queue/scheduler"),
               let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close {
                scheduler = String(text[text.index(after: open)..<close])
            }
            let disk = MachineInfo.Disk(name: name, major: UInt32(truncatingIfNeeded: major), minor: UInt32(truncatingIfNeeded: minor),
                                        size: blocks * 1024, scheduler: scheduler)
            result["\(major):\(minor)"] = disk
        }
        return result
    }

    /// Physical interfaces (those backed by a device), as cAdvisor lists them.
    static func networkDevices() -> [MachineInfo.NetworkDevice] {
        let base = "/sys/class/net"
        return ((try? FileSystem.listDirectory(base)) ?? []).sorted().compactMap { name in
            guard FileSystem.exists("\(base)/\(name)/device") else { return nil }
            return MachineInfo.NetworkDevice(
                name: name,
                macAddress: text("\(base)/\(name)/address") ?? "",
                speed: Int64(text("\(base)/\(name)/speed") ?? "") ?? 0,
                mtu: Int64(text("\(base)/\(name)/mtu") ?? "") ?? 0)
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
