import KubeAPI
import LinuxPrimitives
import Runtime

/// QoS classes and cgroup values from requests and limits, as kubelet computes them.
enum PodResources {
    enum QOSClass: String { case guaranteed = "Guaranteed", burstable = "Burstable", bestEffort = "BestEffort" }

    static func requests(_ c: Container) -> [String: Quantity] {
        var r = c.resources?.requests ?? [:]
        // A limit without a request means request = limit (API server defaulting).
        for (k, v) in c.resources?.limits ?? [:] where r[k] == nil { r[k] = v }
        return r
    }

    static func qosClass(_ pod: Pod) -> QOSClass {
        let all = (pod.spec.initContainers ?? []) + pod.spec.containers
        var anySet = false
        var guaranteed = true
        for c in all {
            let limits = c.resources?.limits ?? [:]
            let reqs = requests(c)
            for name in ["cpu", "memory"] {
                if reqs[name] != nil || limits[name] != nil { anySet = true }
                guard let l = limits[name], let r = reqs[name], l.milli == r.milli else { guaranteed = false; continue }
            }
        }
        if !anySet { return .bestEffort }
        return guaranteed ? .guaranteed : .burstable
    }

    /// `kubepods/pod<uid>`, `kubepods/burstable/pod<uid>` or `kubepods/besteffort/pod<uid>`.
    static func cgroupParent(_ pod: Pod, uid: String) -> String {
        switch qosClass(pod) {
        case .guaranteed: return "kubepods/pod\(uid)"
        case .burstable: return "kubepods/burstable/pod\(uid)"
        case .bestEffort: return "kubepods/besteffort/pod\(uid)"
        }
    }

    /// cgroup v1 shares from milli-CPU (kubelet's MilliCPUToShares), then v2 weight.
    static func cpuWeight(milliCPU: Int64) -> UInt64 {
        let shares = max(2, min(262_144, milliCPU * 1024 / 1000))
        return UInt64(1 + ((shares - 2) * 9999) / 262_142)
    }

    static func containerResources(_ c: Container, qos: QOSClass, memoryCapacity: Int64) -> ContainerResources {
        var r = ContainerResources()
        let reqs = requests(c)
        r.cpuWeight = cpuWeight(milliCPU: reqs["cpu"]?.milli ?? 0)
        if let cpu = c.resources?.limits?["cpu"] {
            r.cpuPeriod = 100_000
            r.cpuQuota = max(1000, cpu.milli * 100_000 / 1000)
        }
        r.memoryLimit = c.resources?.limits?["memory"].map { $0.value }
        switch qos {
        case .guaranteed: r.oomScoreAdj = -997
        case .bestEffort: r.oomScoreAdj = 1000
        case .burstable:
            let request = reqs["memory"]?.value ?? 0
            let adj = memoryCapacity > 0 ? 1000 - (1000 * request) / memoryCapacity : 999
            r.oomScoreAdj = Int32(max(2, min(999, adj)))
        }
        return r
    }

    /// Pod-level limits: the sums when every container has the limit, as kubelet does.
    static func podLimits(_ pod: Pod, pidsLimit: Int64) -> CgroupLimits {
        var limits = CgroupLimits()
        let containers = pod.spec.containers
        let cpuRequest = containers.reduce(Int64(0)) { $0 + (requests($1)["cpu"]?.milli ?? 0) }
        limits.cpuWeight = qosClass(pod) == .bestEffort ? 1 : cpuWeight(milliCPU: cpuRequest)
        if containers.allSatisfy({ $0.resources?.limits?["memory"] != nil }) {
            let sum = containers.reduce(Int64(0)) { $0 + ($1.resources?.limits?["memory"]?.value ?? 0) }
            let initMax = (pod.spec.initContainers ?? []).compactMap { $0.resources?.limits?["memory"]?.value }.max() ?? 0
            limits.memoryMax = max(sum, initMax)
        }
        if containers.allSatisfy({ $0.resources?.limits?["cpu"] != nil }) {
            let milli = containers.reduce(Int64(0)) { $0 + ($1.resources?.limits?["cpu"]?.milli ?? 0) }
            limits.cpuMax = (quota: max(1000, milli * 100), period: 100_000)
        }
        if pidsLimit > 0 { limits.pidsMax = pidsLimit }
        return limits
    }
}
