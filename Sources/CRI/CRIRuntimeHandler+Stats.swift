import ContainerStats
import CRIAPI
import GRPCCore
import Runtime

extension CRIRuntimeHandler {
    func containerStats(request: Runtime_V1_ContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ContainerStatsResponse {
        let id = try resolveContainer(request.containerID)
        guard let record = runtime.listContainers().first(where: { $0.id == id }) else { throw CRIErrors.notFound("container \"\(id)\" not found") }
        var r = Runtime_V1_ContainerStatsResponse()
        if let snapshot = await stats.snapshot(containing: id),
           let c = snapshot.pods.lazy.flatMap(\.containers).first(where: { $0.target.id == id }) {
            r.stats = CRIStats.containerStats(c, record: record, time: snapshot.time)
        } else {
            // Not running (no cgroup to read): attributes only, as containerd answers.
            r.stats.attributes.id = id
            r.stats.attributes.metadata = ContainerConversions.metadata(record.config)
            r.stats.attributes.labels = record.config.labels
            r.stats.attributes.annotations = record.config.annotations
        }
        return r
    }

    func listContainerStats(request: Runtime_V1_ListContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListContainerStatsResponse {
        var r = Runtime_V1_ListContainerStatsResponse()
        r.stats = await filteredContainerStats(request.hasFilter ? request.filter : nil)
        return r
    }

    func streamContainerStats(request: Runtime_V1_StreamContainerStatsRequest, response: RPCWriter<Runtime_V1_StreamContainerStatsResponse>,
                              context: ServerContext) async throws {
        for chunk in Self.chunks(await filteredContainerStats(request.hasFilter ? request.filter : nil), size: 200) {
            var r = Runtime_V1_StreamContainerStatsResponse()
            r.containerStats = chunk
            try await response.write(r)
        }
    }

    func filteredContainerStats(_ filter: Runtime_V1_ContainerStatsFilter?) async -> [Runtime_V1_ContainerStats] {
        let records = Dictionary(runtime.listContainers().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        guard let snapshot = await stats.snapshot() else { return [] }
        return snapshot.pods.flatMap(\.containers).compactMap { c in
            guard let record = records[c.target.id] else { return nil }
            if let filter {
                if !filter.id.isEmpty && !record.id.hasPrefix(filter.id) { return nil }
                if !filter.podSandboxID.isEmpty && !record.sandboxID.hasPrefix(filter.podSandboxID) { return nil }
                if !filter.labelSelector.allSatisfy({ record.config.labels[$0.key] == $0.value }) { return nil }
            }
            return CRIStats.containerStats(c, record: record, time: snapshot.time)
        }
    }

    func podSandboxStats(request: Runtime_V1_PodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_PodSandboxStatsResponse {
        let id = try resolveSandbox(request.podSandboxID)
        var r = Runtime_V1_PodSandboxStatsResponse()
        if let stats = await filteredPodStats(id: id, labels: [:]).first {
            r.stats = stats
        } else {
            let sandbox = try await CRIErrors.mapping("PodSandboxStats") { try runtime.podSandboxStatus(id) }
            r.stats.attributes.id = id
            r.stats.attributes.metadata = SandboxConversions.metadata(sandbox.config)
            r.stats.attributes.labels = sandbox.config.labels
            r.stats.attributes.annotations = sandbox.config.annotations
        }
        return r
    }

    func listPodSandboxStats(request: Runtime_V1_ListPodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
        var r = Runtime_V1_ListPodSandboxStatsResponse()
        r.stats = await filteredPodStats(id: request.filter.id, labels: request.filter.labelSelector)
        return r
    }

    func streamPodSandboxStats(request: Runtime_V1_StreamPodSandboxStatsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>,
                               context: ServerContext) async throws {
        for chunk in Self.chunks(await filteredPodStats(id: request.filter.id, labels: request.filter.labelSelector), size: 100) {
            var r = Runtime_V1_StreamPodSandboxStatsResponse()
            r.podSandboxStats = chunk
            try await response.write(r)
        }
    }

    func filteredPodStats(id: String, labels: [String: String]) async -> [Runtime_V1_PodSandboxStats] {
        let sandboxes = runtime.listPodSandboxes().filter { s in
            (id.isEmpty || s.id.hasPrefix(id)) && labels.allSatisfy { s.config.labels[$0.key] == $0.value }
        }
        guard !sandboxes.isEmpty, let snapshot = await stats.snapshot() else { return [] }
        let records = Dictionary(runtime.listContainers().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return sandboxes.compactMap { sandbox in
            guard let pod = snapshot.pods.first(where: { $0.target.uid == sandbox.config.uid && $0.target.cgroupPath == sandbox.cgroupPath }) else {
                return nil
            }
            return CRIStats.podStats(pod, sandbox: sandbox, containers: records, time: snapshot.time)
        }
    }

    // MARK: metrics (KEP-2371: what kubelet would otherwise take from cAdvisor)

    func listMetricDescriptors(request: Runtime_V1_ListMetricDescriptorsRequest,
                               context: ServerContext) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
        var r = Runtime_V1_ListMetricDescriptorsResponse()
        r.descriptors = PodMetrics.descriptors
        return r
    }

    func listPodSandboxMetrics(request: Runtime_V1_ListPodSandboxMetricsRequest,
                               context: ServerContext) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
        var r = Runtime_V1_ListPodSandboxMetricsResponse()
        r.podMetrics = await podMetrics()
        return r
    }

    func streamPodSandboxMetrics(request: Runtime_V1_StreamPodSandboxMetricsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>,
                                 context: ServerContext) async throws {
        for chunk in Self.chunks(await podMetrics(), size: 100) {
            var r = Runtime_V1_StreamPodSandboxMetricsResponse()
            r.podSandboxMetrics = chunk
            try await response.write(r)
        }
    }

    func podMetrics() async -> [Runtime_V1_PodSandboxMetrics] {
        guard let snapshot = await stats.snapshot() else { return [] }
        return runtime.listPodSandboxes().compactMap { sandbox in
            guard let pod = snapshot.pods.first(where: { $0.target.uid == sandbox.config.uid && $0.target.cgroupPath == sandbox.cgroupPath }) else {
                return nil
            }
            return PodMetrics.metrics(pod, sandboxID: sandbox.id, time: snapshot.time)
        }
    }
}

/// cAdvisor-named metrics per pod and container, as CRI ListPodSandboxMetrics carries them
/// (integers: CPU in whole seconds as CRI-O sends it, memory in bytes).
enum PodMetrics {
    static let containerMetrics: [(name: String, help: String, labels: [String])] = [
        ("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", []),
        ("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", []),
        ("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", []),
        ("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", []),
        ("container_memory_working_set_bytes", "Current working set in bytes.", []),
        ("container_memory_rss", "Size of RSS in bytes.", []),
        ("container_spec_memory_limit_bytes", "Memory limit for the container.", []),
        ("container_processes", "Number of processes running inside the container.", []),
        ("container_network_receive_bytes_total", "Cumulative count of bytes received.", ["interface"]),
        ("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", ["interface"]),
        ("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", ["interface"]),
        ("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", ["interface"]),
    ]

    static var descriptors: [Runtime_V1_MetricDescriptor] {
        containerMetrics.map { m in
            var d = Runtime_V1_MetricDescriptor()
            d.name = m.name
            d.help = m.help
            d.labelKeys = m.labels
            return d
        }
    }

    static func metric(_ name: String, _ value: UInt64, _ type: Runtime_V1_MetricType, labels: [String] = [], time: Double) -> Runtime_V1_Metric {
        var m = Runtime_V1_Metric()
        m.name = name
        m.timestamp = CRIStats.nanos(time)
        m.metricType = type
        m.labelValues = labels
        m.value = CRIStats.value(value)
        return m
    }

    static func cgroupMetrics(_ sample: CgroupSample, time: Double) -> [Runtime_V1_Metric] {
        var out: [Runtime_V1_Metric] = []
        if let cpu = sample.cpu {
            out.append(metric("container_cpu_usage_seconds_total", cpu.usageMicros / 1_000_000, .counter, time: time))
            out.append(metric("container_cpu_user_seconds_total", cpu.userMicros / 1_000_000, .counter, time: time))
            out.append(metric("container_cpu_system_seconds_total", cpu.systemMicros / 1_000_000, .counter, time: time))
        }
        if let memory = sample.memory {
            if let v = memory.usageBytes { out.append(metric("container_memory_usage_bytes", v, .gauge, time: time)) }
            if let v = memory.workingSetBytes { out.append(metric("container_memory_working_set_bytes", v, .gauge, time: time)) }
            if let v = memory.rssBytes { out.append(metric("container_memory_rss", v, .gauge, time: time)) }
            if let v = memory.limitBytes { out.append(metric("container_spec_memory_limit_bytes", v, .gauge, time: time)) }
        }
        if let p = sample.processes { out.append(metric("container_processes", p.processes, .gauge, time: time)) }
        return out
    }

    static func metrics(_ pod: PodSnapshot, sandboxID: String, time: Double) -> Runtime_V1_PodSandboxMetrics {
        var out = Runtime_V1_PodSandboxMetrics()
        out.podSandboxID = sandboxID
        if let sample = pod.sample { out.metrics = cgroupMetrics(sample, time: time) }
        for i in pod.network?.interfaces ?? [] {
            out.metrics.append(metric("container_network_receive_bytes_total", i.rxBytes, .counter, labels: [i.name], time: time))
            out.metrics.append(metric("container_network_transmit_bytes_total", i.txBytes, .counter, labels: [i.name], time: time))
            out.metrics.append(metric("container_network_receive_errors_total", i.rxErrors, .counter, labels: [i.name], time: time))
            out.metrics.append(metric("container_network_transmit_errors_total", i.txErrors, .counter, labels: [i.name], time: time))
        }
        out.containerMetrics = pod.containers.map { c in
            var m = Runtime_V1_ContainerMetrics()
            m.containerID = c.target.id
            m.metrics = cgroupMetrics(c.sample, time: time)
            return m
        }
        return out
    }
}
