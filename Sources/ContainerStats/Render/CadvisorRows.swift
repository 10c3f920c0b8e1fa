import LinuxPrimitives

/// One cgroup as the cAdvisor exposition sees it: its label set and whatever was sampled.
/// The root "/" row is the node; pod rows carry `container=""`.
final class CadvisorRow {
    var labels: PrometheusTextWriter.Labels
    var cpu: CPUUsage?
    var memory: MemoryUsage?
    var pressure: PressureTotals?
    var processes: ProcessUsage?
    var io: [IODeviceUsage] = []
    var network: NetworkUsage?
    var filesystems: [FilesystemUsage] = []
    var spec: ContainerSpecLimits?
    var startTime: Double?
    /// Milliseconds since the epoch: the sample time each series carries.
    var timestamp: Int64

    init(labels: PrometheusTextWriter.Labels, timestamp: Int64) {
        self.labels = labels
        self.timestamp = timestamp
    }

    static func baseLabels(container: String, id: String, image: String, name: String, namespace: String, pod: String)
        -> PrometheusTextWriter.Labels
    {
        PrometheusTextWriter.Labels([("container", container), ("id", id), ("image", image), ("name", name),
                                     ("namespace", namespace), ("pod", pod)])
    }

    /// Rows in the order kubelet lists them: "/", system containers, then each pod followed
    /// by its containers.
    static func rows(_ snapshot: StatsSnapshot) -> [CadvisorRow] {
        let timestamp = Int64((snapshot.time * 1000).rounded(.down))
        var rows: [CadvisorRow] = []
        let node = snapshot.node
        let root = CadvisorRow(labels: baseLabels(container: "", id: "/", image: "", name: "", namespace: "", pod: ""),
                               timestamp: timestamp)
        root.cpu = node.cpu
        root.memory = node.memory
        root.pressure = node.pressure
        root.network = node.network
        root.filesystems = node.mountedFilesystems
        rows.append(root)

        for system in node.systemContainers {
            let row = CadvisorRow(labels: baseLabels(container: "", id: CgroupLayout.normalize(system.target.cgroupPath), image: "",
                                                     name: "", namespace: "", pod: ""), timestamp: timestamp)
            row.fill(system.sample)
            rows.append(row)
        }

        for pod in snapshot.pods {
            if pod.sample != nil || pod.network != nil {
                // A pod without a cgroup of its own (not made by our runtime) still has its
                // network; its id is then empty rather than the root's "/".
                let id = pod.target.cgroupPath.isEmpty ? "" : CgroupLayout.normalize(pod.target.cgroupPath)
                let row = CadvisorRow(labels: baseLabels(container: "", id: id, image: "", name: "", namespace: pod.target.namespace,
                                                         pod: pod.target.name),
                                      timestamp: timestamp)
                if let sample = pod.sample { row.fill(sample) }
                row.network = pod.network
                row.startTime = pod.target.startTime
                if let limits = pod.sample?.limits {
                    row.spec = ContainerSpecLimits(cpuQuota: limits.cpuQuota, cpuPeriod: limits.cpuPeriod ?? 100_000,
                                                   cpuShares: limits.cpuShares, memoryLimitBytes: limits.memoryLimitBytes,
                                                   memorySwapLimitBytes: limits.memorySwapLimitBytes,
                                                   memoryReservationBytes: limits.memoryReservationBytes)
                }
                rows.append(row)
            }
            for container in pod.containers {
                let target = container.target
                let row = CadvisorRow(labels: baseLabels(container: target.name, id: CgroupLayout.normalize(target.cgroupPath),
                                                         image: target.image, name: target.id, namespace: pod.target.namespace,
                                                         pod: pod.target.name),
                                      timestamp: timestamp)
                row.fill(container.sample)
                row.startTime = target.startTime
                row.spec = target.spec
                if let rootfs = container.rootfs { row.filesystems = [rootfs] }
                rows.append(row)
            }
        }
        return rows
    }

    func fill(_ sample: CgroupSample) {
        cpu = sample.cpu
        memory = sample.memory
        pressure = sample.pressure
        processes = sample.processes
        io = sample.io
    }
}
