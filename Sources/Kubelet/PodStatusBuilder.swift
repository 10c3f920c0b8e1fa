import KubeAPI
import LinuxPrimitives
import Runtime

/// What the runtime has for one pod: its sandboxes and every container instance, latest last.
struct PodRuntimeView: Sendable {
    var sandboxes: [SandboxRecord]
    var containers: [ContainerStatusInfo]

    var readySandbox: SandboxRecord? { sandboxes.last { $0.state == .ready } }

    func instances(of name: String, in sandboxID: String?) -> [ContainerStatusInfo] {
        containers.filter { $0.record.config.name == name && (sandboxID == nil || $0.record.sandboxID == sandboxID) }
            .sorted { ($0.record.config.attempt, $0.record.createdAt) < ($1.record.config.attempt, $1.record.createdAt) }
    }
}

/// A reason the kubelet keeps a container waiting (back-off, a config error), set by the syncer.
struct WaitingReason: Sendable, Equatable {
    var reason: String
    var message: String
}

/// Computes `PodStatus` as kubelet does: container states from the runtime, phase from the
/// counts of running/waiting/terminated containers and the restart policy, and the
/// PodReadyToStartContainers/Initialized/ContainersReady/Ready/PodScheduled conditions.
struct PodStatusBuilder {
    let pod: Pod
    let view: PodRuntimeView
    let waiting: [String: WaitingReason]
    let readiness: [String: Bool]
    let startup: [String: Bool]
    let previous: PodStatus?
    let hostIP: String
    let now: String

    func build() -> PodStatus {
        var status = PodStatus()
        let sandbox = view.readySandbox
        let initStatuses = (pod.spec.initContainers ?? []).map { containerStatus($0, sandbox: sandbox, isInit: true, initPending: false) }
        let initDone = initializationDone(initStatuses)
        let appStatuses = pod.spec.containers.map { containerStatus($0, sandbox: sandbox, isInit: false, initPending: !initDone) }
        status.initContainerStatuses = initStatuses.isEmpty ? nil : initStatuses
        status.containerStatuses = appStatuses
        status.phase = phase(initStatuses: initStatuses, statuses: appStatuses)
        status.qosClass = PodResources.qosClass(pod).rawValue
        status.hostIP = hostIP.isEmpty ? nil : hostIP
        status.hostIPs = hostIP.isEmpty ? nil : [PodIP(ip: hostIP)]
        if let ips = sandbox?.network?.ips, let first = ips.first {
            status.podIP = first
            status.podIPs = ips.map(PodIP.init)
        } else if pod.spec.hostNetwork == true, !hostIP.isEmpty {
            status.podIP = hostIP
            status.podIPs = [PodIP(ip: hostIP)]
        }
        status.startTime = previous?.startTime ?? sandboxStart(view.sandboxes.first) ?? now
        let containersReady = appStatuses.allSatisfy(\.ready) && !appStatuses.isEmpty
        let finished = status.phase == "Succeeded" || status.phase == "Failed"
        status.conditions = [
            condition("PodReadyToStartContainers", sandbox != nil),
            condition("Initialized", initDone, reason: initDone ? nil : "ContainersNotInitialized",
                      message: initDone ? nil : "containers with incomplete status: [\(unfinishedInit(initStatuses).joined(separator: " "))]"),
            condition("Ready", containersReady && !finished, reason: containersReady && !finished ? nil : (finished ? "PodCompleted" : "ContainersNotReady"),
                      message: containersReady || finished ? nil : "containers with unready status: [\(appStatuses.filter { !$0.ready }.map(\.name).joined(separator: " "))]"),
            condition("ContainersReady", containersReady && !finished, reason: containersReady && !finished ? nil : (finished ? "PodCompleted" : "ContainersNotReady"),
                      message: containersReady || finished ? nil : "containers with unready status: [\(appStatuses.filter { !$0.ready }.map(\.name).joined(separator: " "))]"),
            condition("PodScheduled", true),
        ]
        return status
    }

    func sandboxStart(_ s: SandboxRecord?) -> String? { s.map { WallClock.rfc3339($0.createdAt) } }

    /// Keeps lastTransitionTime when the status did not change.
    func condition(_ type: String, _ value: Bool, reason: String? = nil, message: String? = nil) -> PodCondition {
        let status = value ? "True" : "False"
        let old = previous?.conditions?.first { $0.type == type }
        let since = old?.status == status ? (old?.lastTransitionTime ?? now) : now
        var c = PodCondition(type: type, status: status, lastTransitionTime: since, reason: reason, message: message)
        c.lastProbeTime = nil
        return c
    }

    func initializationDone(_ statuses: [ContainerStatus]) -> Bool {
        for (spec, s) in zip(pod.spec.initContainers ?? [], statuses) {
            if spec.restartPolicy == "Always" {
                if s.started != true { return false }
                continue
            }
            guard let t = s.state?.terminated, t.exitCode == 0 else { return false }
        }
        return true
    }

    func unfinishedInit(_ statuses: [ContainerStatus]) -> [String] {
        statuses.filter { $0.state?.terminated?.exitCode != 0 }.map(\.name)
    }

    /// kubelet's getPhase: failed init with restartPolicy Never fails the pod; pending
    /// initialization or any waiting container keeps it Pending; otherwise the counts decide.
    func phase(initStatuses: [ContainerStatus], statuses: [ContainerStatus]) -> String {
        let policy = pod.spec.restartPolicy ?? "Always"
        var pendingInit = 0, failedInit = 0
        for (spec, s) in zip(pod.spec.initContainers ?? [], initStatuses) where spec.restartPolicy != "Always" {
            if s.state?.running != nil { pendingInit += 1 }
            else if let t = s.state?.terminated { if t.exitCode != 0 { failedInit += 1 } }
            else if let last = s.lastState?.terminated { if last.exitCode != 0 { failedInit += 1 } }
            else { pendingInit += 1 }
        }
        var running = 0, waitingCount = 0, stopped = 0, succeeded = 0
        for s in statuses {
            if s.state?.running != nil { running += 1 }
            else if let t = s.state?.terminated {
                stopped += 1
                if t.exitCode == 0 { succeeded += 1 }
            } else if s.lastState?.terminated != nil { stopped += 1 }
            else { waitingCount += 1 }
        }
        if failedInit > 0 && policy == "Never" { return "Failed" }
        if pendingInit > 0 || failedInit > 0 || waitingCount > 0 { return "Pending" }
        if running > 0 { return "Running" }
        if stopped > 0 {
            if policy == "Always" { return "Running" }
            if stopped == succeeded { return "Succeeded" }
            if policy == "Never" { return "Failed" }
            return "Running"
        }
        return "Pending"
    }

    func containerStatus(_ c: Container, sandbox: SandboxRecord?, isInit: Bool, initPending: Bool) -> ContainerStatus {
        let instances = view.instances(of: c.name, in: nil)
        let current = instances.last { $0.record.sandboxID == sandbox?.id } ?? instances.last
        let previousRun = instances.dropLast().last { $0.state == .exited }
        var state = KubeAPI.ContainerState()
        var lastState: KubeAPI.ContainerState? = nil
        var ready = false
        var started: Bool? = false
        if let wait = waiting[c.name], current?.state != .running {
            state.waiting = ContainerStateWaiting(reason: wait.reason, message: wait.message.isEmpty ? nil : wait.message)
            if let cur = current, cur.state == .exited { lastState = KubeAPI.ContainerState(terminated: terminated(cur)) }
            else if let prev = previousRun { lastState = KubeAPI.ContainerState(terminated: terminated(prev)) }
        } else if let cur = current {
            switch cur.state {
            case .running:
                state.running = ContainerStateRunning(startedAt: WallClock.rfc3339(cur.startedAt))
                started = startup[c.name] ?? true
                ready = (started ?? false) && (readiness[c.name] ?? (c.readinessProbe == nil))
                if isInit && c.restartPolicy != "Always" { ready = false }
            case .exited:
                state.terminated = terminated(cur)
                if isInit { ready = cur.exitCode == 0 }
            case .created, .unknown:
                state.waiting = ContainerStateWaiting(reason: "ContainerCreating")
            }
            if lastState == nil, let prev = previousRun, prev.record.id != cur.record.id {
                lastState = KubeAPI.ContainerState(terminated: terminated(prev))
            }
        } else {
            state.waiting = ContainerStateWaiting(reason: initPending && !isInit ? "PodInitializing" : "ContainerCreating")
        }
        return ContainerStatus(name: c.name, state: state, lastState: lastState ?? KubeAPI.ContainerState(), ready: ready,
                               restartCount: Int32(current?.record.config.attempt ?? 0), image: c.image ?? "",
                               imageID: current?.record.imageID ?? "", containerID: current.map { "swiftlet://" + $0.record.id },
                               started: started)
    }

    func terminated(_ s: ContainerStatusInfo) -> ContainerStateTerminated {
        ContainerStateTerminated(exitCode: s.exitCode, signal: nil, reason: s.reason.isEmpty ? nil : s.reason,
                                 message: s.message.isEmpty ? nil : s.message,
                                 startedAt: s.startedAt > 0 ? WallClock.rfc3339(s.startedAt) : nil,
                                 finishedAt: s.finishedAt > 0 ? WallClock.rfc3339(s.finishedAt) : nil,
                                 containerID: "swiftlet://" + s.record.id)
    }
}
