/// The metric families of `/metrics/cadvisor`, in exposition order, each tied to its one
/// source field. Help texts are ours; names, types and labels follow cAdvisor.
extension CadvisorMetrics {
    typealias Extra = PrometheusTextWriter.ExtraLabel
    static let cpuTotal = [Extra("cpu", "total")]
    static let maxOpenFiles = [Extra("ulimit", "max_open_files")]
    static let faultLabels = ["container", "hierarchy"].map { scope in
        (minor: [Extra("failure_type", "pgfault"), Extra("scope", scope)], major: [Extra("failure_type", "pgmajfault"), Extra("scope", scope)])
    }

    static let families: [Family] = timeFamilies + cpuFamilies + memoryFamilies + filesystemFamilies + ioFamilies
        + networkFamilies + processFamilies + pressureFamilies + specFamilies

    static let timeFamilies: [Family] = [
        Family(name: "container_last_seen", help: "Last time the container was seen by the stats collector (Unix seconds).",
               kind: .gauge, present: { _ in true }) { row, name, w in
            w.series(name, row.labels)
            w.value(Double(row.timestamp / 1000), timestamp: row.timestamp)
        },
        Family(name: "container_start_time_seconds", help: "Start time of the container (Unix seconds).", kind: .gauge,
               present: { $0.startTime != nil }) { row, name, w in
            guard let start = row.startTime else { return }
            w.series(name, row.labels)
            w.value(start, timestamp: row.timestamp)
        },
    ]

    static let cpuFamilies: [Family] = [
        seconds("container_cpu_user_seconds_total", "CPU time spent in user mode, in seconds.") { $0.cpu?.userMicros },
        seconds("container_cpu_system_seconds_total", "CPU time spent in kernel mode, in seconds.") { $0.cpu?.systemMicros },
        Family(name: "container_cpu_usage_seconds_total", help: "CPU time consumed on all CPUs, in seconds.", kind: .counter,
               present: { $0.cpu != nil }) { row, name, w in
            guard let cpu = row.cpu else { return }
            w.series(name, row.labels, cpuTotal)
            w.value(micros: cpu.usageMicros, timestamp: row.timestamp)
        },
        number("container_cpu_cfs_periods_total", .counter, "Enforcement periods that have elapsed under a CPU limit.") { $0.cpu?.periods },
        number("container_cpu_cfs_throttled_periods_total", .counter, "Enforcement periods in which the container was throttled.") {
            $0.cpu?.throttledPeriods
        },
        seconds("container_cpu_cfs_throttled_seconds_total", "Total time the container was throttled, in seconds.") { $0.cpu?.throttledMicros },
        number("container_cpu_cfs_burst_periods_total", .counter, "Periods in which the container ran beyond its quota using burst.") {
            $0.cpu?.burstPeriods
        },
        seconds("container_cpu_cfs_burst_seconds_total", "Total time the container ran on burst beyond its quota, in seconds.") {
            $0.cpu?.burstMicros
        },
    ]

    static let memoryFamilies: [Family] = [
        number("container_memory_cache", .gauge, "Page cache charged to the container, in bytes.") { $0.memory?.cacheBytes },
        number("container_memory_rss", .gauge, "Anonymous memory of the container, in bytes.") { $0.memory?.rssBytes },
        number("container_memory_kernel_usage", .gauge, "Kernel memory charged to the container, in bytes.") { $0.memory?.kernelBytes },
        number("container_memory_mapped_file", .gauge, "File-backed memory mapped by the container, in bytes.") { $0.memory?.mappedFileBytes },
        number("container_memory_swap", .gauge, "Swap used by the container, in bytes.") { $0.memory?.swapBytes },
        // cAdvisor types this a counter; promtool's lint rejects a counter without "_total", so
        // it is exposed as a gauge (PromQL's rate() does not look at the type).
        number("container_memory_failcnt", .gauge, "Times the container's memory usage hit its limit.") { $0.memory?.eventsMax },
        number("container_memory_usage_bytes", .gauge, "Memory usage of the container, all kinds included, in bytes.") {
            $0.memory?.usageBytes
        },
        number("container_memory_max_usage_bytes", .gauge, "Highest memory usage recorded for the container, in bytes.") {
            $0.memory?.maxUsageBytes
        },
        number("container_memory_working_set_bytes", .gauge, "Memory the container is actively using (usage minus inactive file pages), in bytes.") {
            $0.memory?.workingSetBytes
        },
        number("container_memory_total_active_file_bytes", .gauge, "File-backed memory on the active LRU list, in bytes.") {
            $0.memory?.activeFileBytes
        },
        number("container_memory_total_inactive_file_bytes", .gauge, "File-backed memory on the inactive LRU list, in bytes.") {
            $0.memory?.inactiveFileBytes
        },
        Family(name: "container_memory_failures_total", help: "Page faults of the container by type and scope.", kind: .counter,
               present: { $0.memory?.pageFaults != nil }) { row, name, w in
            guard let memory = row.memory, let minor = memory.pageFaults else { return }
            // cgroup v2 memory.stat is hierarchical: container and hierarchy scope coincide.
            for labels in faultLabels {
                w.series(name, row.labels, labels.minor)
                w.value(minor, timestamp: row.timestamp)
                if let major = memory.majorPageFaults {
                    w.series(name, row.labels, labels.major)
                    w.value(major, timestamp: row.timestamp)
                }
            }
        },
        number("container_memory_events_high_total", .counter, "Times the container was throttled for exceeding memory.high.") {
            $0.memory?.eventsHigh
        },
        number("container_memory_events_max_total", .counter, "Times the container's memory usage was about to exceed memory.max.") {
            $0.memory?.eventsMax
        },
        number("container_memory_file_dirty_bytes", .gauge, "File pages waiting to be written back, in bytes.") { $0.memory?.fileDirtyBytes },
        number("container_memory_file_writeback_bytes", .gauge, "File pages being written back, in bytes.") {
            $0.memory?.fileWritebackBytes
        },
        number("container_memory_pgscan_total", .counter, "Pages scanned by reclaim.") { $0.memory?.pgscan },
        number("container_memory_pgsteal_total", .counter, "Pages reclaimed.") { $0.memory?.pgsteal },
        number("container_memory_workingset_refault_file_total", .counter, "Refaults of previously evicted file pages.") {
            $0.memory?.workingsetRefaultFile
        },
        number("container_memory_workingset_refault_anon_total", .counter, "Refaults of previously evicted anonymous pages.") {
            $0.memory?.workingsetRefaultAnon
        },
        number("container_oom_events_total", .counter, "Processes of the container killed by the OOM killer.") { $0.memory?.oomKills },
    ]

    static let filesystemFamilies: [Family] = [
        perFilesystem("container_fs_inodes_free", "Free inodes on the filesystem.") { $0.capacity.inodesFree },
        // A gauge in cAdvisor; promtool's lint rejects a non-counter ending in "_total", so it is
        // typed counter here (the value is the filesystem's inode count).
        perFilesystem("container_fs_inodes_total", "Inodes on the filesystem.", kind: .counter) { $0.capacity.inodes },
        perFilesystem("container_fs_limit_bytes", "Size of the filesystem the container can use, in bytes.") { $0.capacity.capacityBytes },
        perFilesystem("container_fs_usage_bytes", "Bytes used by the container on the filesystem.") { $0.used?.bytes },
    ]

    static let ioFamilies: [Family] = [
        perDevice("container_fs_reads_bytes_total", "Bytes read from the device.") { $0.readBytes },
        perDevice("container_fs_reads_total", "Reads completed on the device.") { $0.reads },
        perDevice("container_fs_writes_bytes_total", "Bytes written to the device.") { $0.writeBytes },
        perDevice("container_fs_writes_total", "Writes completed on the device.") { $0.writes },
        perDeviceSeconds("container_fs_io_cost_usage_seconds_total", "Device time charged by the io.cost controller, in seconds.") {
            $0.costUsageMicros
        },
        perDeviceSeconds("container_fs_io_cost_wait_seconds_total", "Time spent waiting for io.cost budget, in seconds.") { $0.costWaitMicros },
        perDeviceSeconds("container_fs_io_cost_indebt_seconds_total", "Time spent in debt to io.cost, in seconds.") { $0.costIndebtMicros },
        perDeviceSeconds("container_fs_io_cost_indelay_seconds_total", "Time delayed by io.cost debt, in seconds.") {
            $0.costIndelayMicros
        },
        Family(name: "container_blkio_device_usage_total", help: "Bytes transferred to and from the device by operation.",
               kind: .counter, present: { !$0.io.isEmpty }) { row, name, w in
            for device in row.io {
                let common = [Extra("device", device.name), Extra("major", String(device.device.major)),
                              Extra("minor", String(device.device.minor))]
                w.series(name, row.labels, common + [Extra("operation", "Read")])
                w.value(device.readBytes, timestamp: row.timestamp)
                w.series(name, row.labels, common + [Extra("operation", "Write")])
                w.value(device.writeBytes, timestamp: row.timestamp)
            }
        },
    ]

    static let networkFamilies: [Family] = [
        perInterface("container_network_receive_bytes_total", "Bytes received on the interface.") { $0.rxBytes },
        perInterface("container_network_receive_packets_total", "Packets received on the interface.") { $0.rxPackets },
        perInterface("container_network_receive_packets_dropped_total", "Received packets dropped on the interface.") { $0.rxDropped },
        perInterface("container_network_receive_errors_total", "Receive errors on the interface.") { $0.rxErrors },
        perInterface("container_network_transmit_bytes_total", "Bytes transmitted on the interface.") { $0.txBytes },
        perInterface("container_network_transmit_packets_total", "Packets transmitted on the interface.") { $0.txPackets },
        perInterface("container_network_transmit_packets_dropped_total", "Transmitted packets dropped on the interface.") { $0.txDropped },
        perInterface("container_network_transmit_errors_total", "Transmit errors on the interface.") { $0.txErrors },
    ]

    static let processFamilies: [Family] = [
        number("container_processes", .gauge, "Processes running in the container.") { $0.processes?.processes },
        number("container_file_descriptors", .gauge, "Open file descriptors of the container's processes.") {
            $0.processes?.fileDescriptors
        },
        number("container_sockets", .gauge, "Open sockets of the container's processes.") { $0.processes?.sockets },
        number("container_threads_max", .gauge, "Maximum number of threads allowed in the container (pids.max).") {
            $0.processes?.threadsMax
        },
        number("container_threads", .gauge, "Threads running in the container.") { $0.processes?.threads },
        number("container_ulimits_soft", .gauge, "Soft ulimit of the container's first process.", maxOpenFiles) {
            $0.processes?.openFilesSoftLimit
        },
    ]

    static let pressureFamilies: [Family] = [
        seconds("container_pressure_cpu_stalled_seconds_total", "Time in which no task of the container could run for lack of CPU, in seconds.") {
            $0.pressure?.cpuFull
        },
        seconds("container_pressure_cpu_waiting_seconds_total", "Time in which some task of the container waited for CPU, in seconds.") {
            $0.pressure?.cpuSome
        },
        seconds("container_pressure_memory_stalled_seconds_total", "Time in which no task of the container could run for lack of memory, in seconds.") {
            $0.pressure?.memoryFull
        },
        seconds("container_pressure_memory_waiting_seconds_total", "Time in which some task of the container waited for memory, in seconds.") {
            $0.pressure?.memorySome
        },
        seconds("container_pressure_io_stalled_seconds_total", "Time in which no task of the container could run for lack of I/O, in seconds.") {
            $0.pressure?.ioFull
        },
        seconds("container_pressure_io_waiting_seconds_total", "Time in which some task of the container waited for I/O, in seconds.") {
            $0.pressure?.ioSome
        },
    ]

    /// Spec gauges: 0 stands for "no limit", as in cAdvisor.
    static let specFamilies: [Family] = [
        number("container_spec_cpu_period", .gauge, "CPU period of the container's CFS quota, in microseconds.") { $0.spec?.cpuPeriod },
        Family(name: "container_spec_cpu_quota", help: "CPU quota of the container per period, in microseconds (0: none).", kind: .gauge,
               present: { $0.spec != nil }) { row, name, w in
            guard let spec = row.spec else { return }
            w.series(name, row.labels)
            w.value(spec.cpuQuota ?? 0, timestamp: row.timestamp)
        },
        number("container_spec_cpu_shares", .gauge, "CPU shares of the container.") { $0.spec?.cpuShares },
        number("container_spec_memory_limit_bytes", .gauge, "Memory limit of the container, in bytes (0: none).") {
            $0.spec.map { $0.memoryLimitBytes ?? 0 }
        },
        number("container_spec_memory_swap_limit_bytes", .gauge, "Memory plus swap limit of the container, in bytes (0: none).") {
            $0.spec.map { $0.memorySwapLimitBytes ?? 0 }
        },
        number("container_spec_memory_reservation_limit_bytes", .gauge, "Memory reservation of the container, in bytes (0: none).") {
            $0.spec.map { $0.memoryReservationBytes ?? 0 }
        },
    ]
}
