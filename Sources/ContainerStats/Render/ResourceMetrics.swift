/// `/metrics/resource`: kubelet's small resource-metrics endpoint (what metrics-server can
/// scrape), every sample with its explicit collection timestamp.
public enum ResourceMetrics {
    public static let contentType = PrometheusTextWriter.contentType

    public static func render(_ snapshot: StatsSnapshot) -> [UInt8] {
        var w = PrometheusTextWriter(capacity: 1024 + snapshot.pods.count * 1024)
        let ts = Int64((snapshot.time * 1000).rounded(.down))
        func containerLabels(_ pod: PodSnapshot, _ container: ContainerSnapshot) -> PrometheusTextWriter.Labels {
            .init([("container", container.target.name), ("namespace", pod.target.namespace), ("pod", pod.target.name)])
        }
        func podLabels(_ pod: PodSnapshot) -> PrometheusTextWriter.Labels {
            .init([("namespace", pod.target.namespace), ("pod", pod.target.name)])
        }
        let containers = snapshot.pods.flatMap { pod in pod.containers.map { (pod, $0) } }

        if containers.contains(where: { $0.1.sample.cpu != nil }) {
            w.header("container_cpu_usage_seconds_total", help: "[STABLE] Cumulative CPU time consumed by the container, in core-seconds.", kind: .counter)
            for (pod, container) in containers {
                guard let cpu = container.sample.cpu else { continue }
                w.series("container_cpu_usage_seconds_total", containerLabels(pod, container))
                w.value(micros: cpu.usageMicros, timestamp: ts)
            }
        }
        if containers.contains(where: { $0.1.sample.memory?.workingSetBytes != nil }) {
            w.header("container_memory_working_set_bytes", help: "[STABLE] Current working set of the container, in bytes.", kind: .gauge)
            for (pod, container) in containers {
                guard let value = container.sample.memory?.workingSetBytes else { continue }
                w.series("container_memory_working_set_bytes", containerLabels(pod, container))
                w.value(value, timestamp: ts)
            }
        }
        if !containers.isEmpty {
            w.header("container_start_time_seconds", help: "[STABLE] Start time of the container since the Unix epoch, in seconds.", kind: .gauge)
            for (pod, container) in containers {
                w.series("container_start_time_seconds", containerLabels(pod, container))
                w.value(container.target.startTime, timestamp: ts)
            }
        }
        if containers.contains(where: { $0.1.sample.memory?.swapBytes != nil }) {
            w.header("container_swap_usage_bytes", help: "[ALPHA] Current swap usage of the container, in bytes.", kind: .gauge)
            for (pod, container) in containers {
                guard let value = container.sample.memory?.swapBytes else { continue }
                w.series("container_swap_usage_bytes", containerLabels(pod, container))
                w.value(value, timestamp: ts)
            }
        }
        if let cpu = snapshot.node.cpu {
            w.header("node_cpu_usage_seconds_total", help: "[STABLE] Cumulative CPU time consumed by the node, in core-seconds.", kind: .counter)
            w.series("node_cpu_usage_seconds_total", .empty)
            w.value(micros: cpu.usageMicros, timestamp: ts)
        }
        if let value = snapshot.node.memory?.workingSetBytes {
            w.header("node_memory_working_set_bytes", help: "[STABLE] Current working set of the node, in bytes.", kind: .gauge)
            w.series("node_memory_working_set_bytes", .empty)
            w.value(value, timestamp: ts)
        }
        if let value = snapshot.node.memory?.swapBytes {
            w.header("node_swap_usage_bytes", help: "[ALPHA] Current swap usage of the node, in bytes.", kind: .gauge)
            w.series("node_swap_usage_bytes", .empty)
            w.value(value, timestamp: ts)
        }
        let pods = snapshot.pods.filter { $0.sample != nil }
        if pods.contains(where: { $0.sample?.cpu != nil }) {
            w.header("pod_cpu_usage_seconds_total", help: "[STABLE] Cumulative CPU time consumed by the pod, in core-seconds.", kind: .counter)
            for pod in pods {
                guard let cpu = pod.sample?.cpu else { continue }
                w.series("pod_cpu_usage_seconds_total", podLabels(pod))
                w.value(micros: cpu.usageMicros, timestamp: ts)
            }
        }
        if pods.contains(where: { $0.sample?.memory?.workingSetBytes != nil }) {
            w.header("pod_memory_working_set_bytes", help: "[STABLE] Current working set of the pod, in bytes.", kind: .gauge)
            for pod in pods {
                guard let value = pod.sample?.memory?.workingSetBytes else { continue }
                w.series("pod_memory_working_set_bytes", podLabels(pod))
                w.value(value, timestamp: ts)
            }
        }
        if pods.contains(where: { $0.sample?.memory?.swapBytes != nil }) {
            w.header("pod_swap_usage_bytes", help: "[ALPHA] Current swap usage of the pod, in bytes.", kind: .gauge)
            for pod in pods {
                guard let value = pod.sample?.memory?.swapBytes else { continue }
                w.series("pod_swap_usage_bytes", podLabels(pod))
                w.value(value, timestamp: ts)
            }
        }
        w.header("resource_scrape_error", help: "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise.", kind: .gauge)
        w.series("resource_scrape_error", .empty)
        w.value(UInt64(snapshot.node.cpu == nil || snapshot.node.memory == nil ? 1 : 0))
        return w.bytes
    }
}
