import LinuxPrimitives

/// Names for device numbers, as cAdvisor labels them: "/dev/NAME" for block devices (from
/// /proc/partitions, and /sys/dev/block for devices not listed there), the mount source for
/// everything else (tmpfs, overlay). Tables are re-read at most once per round when a
/// device is not known yet.
final class DeviceNames {
    private var blockNames: [DeviceNumber: String] = [:]
    private var mountSources: [DeviceNumber: String] = [:]
    private var refreshedRound = -1
    var round = 0

    init() {
        refresh()
    }

    func refresh() {
        refreshedRound = round
        if let bytes = try? KernelFile.read("/proc/partitions") {
            for (device, name) in KernelText.partitions(bytes) { blockNames[device] = "/dev/" + name }
        }
        if let bytes = try? KernelFile.read("/proc/self/mountinfo") {
            for mount in KernelText.mountinfo(bytes) where mountSources[mount.device] == nil {
                mountSources[mount.device] = mount.source
            }
        }
    }

    /// Block device name for io.stat lines.
    func blockDevice(_ device: DeviceNumber) -> String {
        if let name = blockNames[device] { return name }
        if refreshedRound != round { refresh() }
        if let name = blockNames[device] { return name }
        if let bytes = try? KernelFile.read("/sys/dev/block/\(device)/uevent") {
            for line in KernelText.lines(bytes) where line.starts(with: "DEVNAME=".utf8) {
                let name = "/dev/" + KernelText.string(line.dropFirst(8))
                blockNames[device] = name
                return name
            }
        }
        return device.description
    }

    /// The device label for a filesystem that holds a directory.
    func filesystemDevice(_ device: DeviceNumber) -> String {
        if device.major != 0, let name = blockNames[device] { return name }
        if let source = mountSources[device] { return source }
        if refreshedRound != round { refresh() }
        if device.major != 0, let name = blockNames[device] { return name }
        return mountSources[device] ?? device.description
    }

    /// Mounted block-device filesystems (one mount point per device), for the node's series.
    func mountedBlockFilesystems() -> [(device: DeviceNumber, mountPoint: String)] {
        guard let bytes = try? KernelFile.read("/proc/self/mountinfo") else { return [] }
        var seen: Set<DeviceNumber> = []
        var result: [(DeviceNumber, String)] = []
        for mount in KernelText.mountinfo(bytes) where mount.device.major != 0 && mount.source.hasPrefix("/dev/") {
            if seen.insert(mount.device).inserted { result.append((mount.device, mount.mountPoint)) }
        }
        return result
    }
}
