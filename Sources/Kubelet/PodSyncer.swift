import Foundation
import KubeAPI
import LinuxPrimitives
import Logging
import Runtime

/// What a pod worker remembers between syncs of its pod.
struct PodWorkerState: Sendable {
    var volumePaths: [String: String]? = nil
    var status: PodStatus? = nil
    var waiting: [String: WaitingReason] = [:]
    var readiness: [String: Bool] = [:]
    var startup: [String: Bool] = [:]
    /// Containers the liveness prober wants restarted.
    var livenessFailed: Set<String> = []
    /// Why the last sandbox creation failed (shown while it backs off).
    var sandboxError: String? = nil
}

/// Brings one pod's runtime state to its spec, the way kubelet's SyncPod does: sandbox first,
/// init containers one by one, then app containers under the restart policy and back-off.
struct PodSyncer: Sendable {
    let runtime: RuntimeService
    let volumes: VolumeManager
    let config: KubeletConfig
    let backoff: RestartBackoff
    let hostIP: String
    let logger: Logger
    let probes: ProbeManager
    var envSource: (any EnvSource)? = nil
    var serviceEnv: @Sendable (String) async -> [String] = { _ in [] }

    func uid(_ pod: Pod) -> String { pod.metadata.uid ?? "" }

    func view(uid: String) -> PodRuntimeView {
        let sandboxes = runtime.listPodSandboxes(uid: uid)
        let containers = sandboxes.flatMap { runtime.listContainers(sandboxID: $0.id) }.sorted { $0.createdAt < $1.createdAt }
            .compactMap { try? runtime.containerStatus($0.id) }
        return PodRuntimeView(sandboxes: sandboxes, containers: containers)
    }

    /// One reconciliation; returns the seconds until the pod needs another look at the latest.
    func sync(_ pod: Pod, state: inout PodWorkerState) async -> Double {
        let uid = uid(pod)
        var next = config.resyncIntervalSeconds
        state.waiting = [:]
        var view = view(uid: uid)
        let qos = PodResources.qosClass(pod)
        if isTerminal(state.status) && view.readySandbox == nil {
            state.status = buildStatus(pod, view: view, state: state)
            return next
        }
        if view.readySandbox == nil {
            // A sandbox that failed to come up is retried with back-off, not on every wake-up.
            let sandboxKey = uid + "/sandbox"
            if let until = backoff.notBefore(sandboxKey, finishedAt: .distantPast, ranFor: 0) {
                for c in (pod.spec.initContainers ?? []) + pod.spec.containers {
                    state.waiting[c.name] = WaitingReason(reason: "ContainerCreating", message: state.sandboxError ?? "")
                }
                state.status = buildStatus(pod, view: view, state: state)
                return max(0.05, until.timeIntervalSinceNow)
            }
            do {
                try await createSandbox(pod, uid: uid, view: view, state: &state)
                backoff.reset(sandboxKey)
                state.sandboxError = nil
            } catch {
                backoff.recordRestart(sandboxKey)
                let message = "\(error)"
                state.sandboxError = message
                logger.warning("pod \(podName(pod)): \(message)")
                for c in (pod.spec.initContainers ?? []) + pod.spec.containers {
                    state.waiting[c.name] = WaitingReason(reason: "ContainerCreating", message: message)
                }
                state.status = buildStatus(pod, view: view, state: state)
                return min(next, 5)
            }
            view = self.view(uid: uid)
        }
        guard let sandbox = view.readySandbox else { return next }
        applyProbeResults(pod, uid: uid, sandbox: sandbox, view: view, state: &state)
        if state.volumePaths != nil {
            do { try await volumes.refreshSourced(pod, uid: uid) } catch {
                logger.warning("pod \(podName(pod)): refreshing volumes: \(error)")
            }
        }
        if state.volumePaths == nil {
            do { state.volumePaths = try await volumes.setUp(pod, uid: uid) } catch {
                for c in pod.spec.containers { state.waiting[c.name] = WaitingReason(reason: "ContainerCreating", message: "\(error)") }
                state.status = buildStatus(pod, view: view, state: state)
                return min(next, 5)
            }
        }
        var initDone = true
        for container in pod.spec.initContainers ?? [] {
            let sidecar = container.restartPolicy == "Always"
            let latest = view.instances(of: container.name, in: sandbox.id).last
            if let latest, latest.state == .exited, latest.exitCode == 0, !sidecar { continue }
            if let latest, latest.state == .running {
                if sidecar { continue }
                initDone = false
                break
            }
            if let latest, latest.state == .exited, !sidecar, pod.spec.restartPolicy == "Never" {
                initDone = false
                break
            }
            if let wait = await ensureStarted(pod, container, sandbox: sandbox, view: view, qos: qos, state: &state, isInit: true) {
                next = min(next, wait)
            }
            initDone = sidecar
            if !initDone { break }
        }
        if initDone {
            for container in pod.spec.containers {
                let latest = view.instances(of: container.name, in: sandbox.id).last
                if let latest, latest.state == .running {
                    if state.livenessFailed.remove(container.name) != nil {
                        logger.info("pod \(podName(pod)) container \(container.name) failed liveness probe, will be restarted")
                        try? await runtime.stopContainer(latest.record.id, timeoutSeconds: gracePeriod(pod))
                    } else {
                        continue
                    }
                }
                if let wait = await ensureStarted(pod, container, sandbox: sandbox, view: self.view(uid: uid), qos: qos, state: &state, isInit: false) {
                    next = min(next, wait)
                }
            }
        }
        let finalView = self.view(uid: uid)
        let running = finalView.containers.filter { $0.state == .running && $0.record.sandboxID == sandbox.id }
            .map { (name: $0.record.config.name, containerID: $0.record.id) }
        probes.update(pod: pod, uid: uid, running: running,
                      podIP: sandbox.network?.ips.first ?? (pod.spec.hostNetwork == true ? hostIP : "127.0.0.1"))
        applyProbeResults(pod, uid: uid, sandbox: sandbox, view: finalView, state: &state)
        state.status = buildStatus(pod, view: finalView, state: state)
        if isTerminal(state.status) {
            // A pod that has run to completion gives up its sandbox (network, shim processes).
            for s in finalView.sandboxes where s.state == .ready { try? await runtime.stopPodSandbox(s.id) }
        }
        return next
    }

    /// Copies the probers' verdicts for the running instances into the worker's state.
    func applyProbeResults(_ pod: Pod, uid: String, sandbox: SandboxRecord, view: PodRuntimeView, state: inout PodWorkerState) {
        state.readiness = [:]
        state.startup = [:]
        for c in (pod.spec.initContainers ?? []) + pod.spec.containers {
            guard let instance = view.instances(of: c.name, in: sandbox.id).last, instance.state == .running else { continue }
            let id = instance.record.id
            if c.readinessProbe != nil {
                state.readiness[c.name] = probes.result(uid: uid, container: c.name, containerID: id, kind: .readiness) ?? false
            }
            if c.startupProbe != nil {
                let started = probes.result(uid: uid, container: c.name, containerID: id, kind: .startup)
                state.startup[c.name] = started == true
                if started == false { state.livenessFailed.insert(c.name) }
            }
            if probes.result(uid: uid, container: c.name, containerID: id, kind: .liveness) == false {
                state.livenessFailed.insert(c.name)
            }
        }
    }

    func isTerminal(_ status: PodStatus?) -> Bool { status?.phase == "Succeeded" || status?.phase == "Failed" }

    func buildStatus(_ pod: Pod, view: PodRuntimeView, state: PodWorkerState) -> PodStatus {
        PodStatusBuilder(pod: pod, view: view, waiting: state.waiting, readiness: state.readiness, startup: state.startup,
                         previous: state.status, hostIP: hostIP, now: KubeTime.now()).build()
    }

    func podName(_ pod: Pod) -> String { "\(pod.metadata.namespace ?? "default")/\(pod.metadata.name ?? "")" }

    func gracePeriod(_ pod: Pod) -> Int64 { pod.spec.terminationGracePeriodSeconds ?? 30 }

    func createSandbox(_ pod: Pod, uid: String, view: PodRuntimeView, state: inout PodWorkerState) async throws {
        for old in view.sandboxes {
            logger.info("pod \(podName(pod)): replacing sandbox \(old.id.prefix(12)) (\(old.state.rawValue))")
            try? await runtime.removePodSandbox(old.id)
        }
        state.volumePaths = try await volumes.setUp(pod, uid: uid)
        let spec = pod.spec
        var sandboxConfig = SandboxConfig(
            name: pod.metadata.name ?? "", namespace: pod.metadata.namespace ?? "default", uid: uid,
            attempt: UInt32(view.sandboxes.count), hostname: Self.hostname(pod),
            logDirectory: "\(config.podLogDir)/\(pod.metadata.namespace ?? "default")_\(pod.metadata.name ?? "")_\(uid)",
            labels: pod.metadata.labels ?? [:], annotations: pod.metadata.annotations ?? [:],
            network: spec.hostNetwork == true ? .node : .pod,
            pid: spec.hostPID == true ? .node : (spec.shareProcessNamespace == true ? .pod : .container),
            ipc: spec.hostIPC == true ? .node : .pod,
            cgroupParent: PodResources.cgroupParent(pod, uid: uid))
        sandboxConfig.labels["io.kubernetes.pod.uid"] = uid
        // Read back when the pod's spec is gone (an orphan found after a restart): how long its
        // containers get to stop.
        sandboxConfig.annotations["io.kubernetes.pod.terminationGracePeriod"] = String(gracePeriod(pod))
        sandboxConfig.portMappings = spec.containers.flatMap { c in
            (c.ports ?? []).compactMap { p in
                guard let host = p.hostPort, host > 0 else { return nil }
                return PortMapping(containerPort: p.containerPort, hostPort: host, protocol: p.protocol_ ?? "TCP", hostIP: p.hostIP ?? "")
            }
        }
        for sysctl in spec.securityContext?.sysctls ?? [] { sandboxConfig.sysctls[sysctl.name] = sysctl.value }
        if let dns = spec.dnsConfig, spec.dnsPolicy == "None" || dns.nameservers != nil {
            sandboxConfig.dns = DNSConfig(servers: dns.nameservers ?? [], searches: dns.searches ?? [],
                                          options: (dns.options ?? []).compactMap { o in o.name.map { n in o.value.map { "\(n):\($0)" } ?? n } })
        }
        sandboxConfig.hostAliases = (spec.hostAliases ?? []).map { "\($0.ip)\t\(($0.hostnames ?? []).joined(separator: "\t"))" }
        let id = try await runtime.runPodSandbox(sandboxConfig)
        let notEnforced = try runtime.updatePodResources(id, PodResources.podLimits(pod, pidsLimit: config.podPidsLimit))
        if !notEnforced.isEmpty, runtime.reportOnce(notEnforced) {
            logger.notice("pod \(podName(pod)): \(notEnforced.joined(separator: ", ")) not enforced on this host (cgroup2 at \(runtime.hierarchy.mountPoint) has no such controller)")
        }
    }

    /// The pod's hostname: spec.hostname, else the pod name, cut to 63 characters as kubelet does.
    static func hostname(_ pod: Pod) -> String {
        var name = pod.spec.hostname ?? pod.metadata.name ?? "pod"
        if name.count > 63 { name = String(name.prefix(63)) }
        while name.hasSuffix("-") || name.hasSuffix(".") { name.removeLast() }
        return name
    }
}
