import Foundation
import KubeAPI
import LinuxPrimitives
import Runtime

extension PodSyncer {
    /// Makes sure the container has a live instance if its restart policy wants one: starts a
    /// first instance, restarts an exited one after back-off, or records why it is waiting.
    /// Returns seconds until the next attempt when it is backing off.
    func ensureStarted(_ pod: Pod, _ container: Container, sandbox: SandboxRecord, view: PodRuntimeView, qos: PodResources.QOSClass,
                       state: inout PodWorkerState, isInit: Bool) async -> Double? {
        let all = view.instances(of: container.name, in: nil)
        let latest = all.last { $0.record.sandboxID == sandbox.id }
        let key = "\(uid(pod))/\(container.name)"
        var attempt: UInt32 = 0
        if let previous = all.last { attempt = previous.record.config.attempt + 1 }
        if let latest {
            switch latest.state {
            case .running:
                return nil
            case .created:
                do { try await startOffPool(latest.record.id) } catch {
                    state.waiting[container.name] = WaitingReason(reason: "RunContainerError", message: "\(error)")
                }
                return nil
            case .exited, .unknown:
                let policy = isInit && container.restartPolicy == "Always" ? "Always" : (pod.spec.restartPolicy ?? "Always")
                let restart = policy == "Always" || (policy == "OnFailure" && latest.exitCode != 0) || (isInit && latest.exitCode != 0 && policy != "Never")
                if !restart { return nil }
                let finished = Date(timeIntervalSince1970: Double(latest.finishedAt) / 1e9)
                let ranFor = Double(latest.finishedAt - latest.startedAt) / 1e9
                if let until = backoff.notBefore(key, finishedAt: finished, ranFor: ranFor) {
                    let delay = Int(backoff.currentDelay(key))
                    state.waiting[container.name] = WaitingReason(
                        reason: "CrashLoopBackOff",
                        message: "back-off \(Self.duration(delay)) restarting failed container=\(container.name) pod=\(pod.metadata.name ?? "")_\(pod.metadata.namespace ?? "default")(\(uid(pod)))")
                    return max(0.05, until.timeIntervalSinceNow)
                }
                backoff.recordRestart(key)
                // Keep the instance that just exited (for `previous` logs and lastState); older ones go.
                for old in all.dropLast() where old.record.id != latest.record.id && old.state != .running {
                    try? runtime.removeContainer(old.record.id)
                }
            }
        }
        await startNew(pod, container, attempt: attempt, sandbox: sandbox, qos: qos, state: &state)
        return nil
    }

    /// `10s`, `1m20s`, `5m0s`: Go's duration format, as kubelet's messages carry it.
    static func duration(_ seconds: Int) -> String {
        seconds < 60 ? "\(seconds)s" : "\(seconds / 60)m\(seconds % 60)s"
    }

    func startNew(_ pod: Pod, _ container: Container, attempt: UInt32, sandbox: SandboxRecord, qos: PodResources.QOSClass,
                  state: inout PodWorkerState) async {
        let uid = uid(pod)
        let podIP = sandbox.network?.ips.first ?? (pod.spec.hostNetwork == true ? hostIP : "")
        var builder = ContainerConfigBuilder(pod: pod, uid: uid, podIP: podIP, hostIP: hostIP, nodeName: config.nodeName)
        builder.envSource = envSource
        let containerConfig: ContainerConfig
        do {
            var mounts = try volumes.mounts(for: container, index: 0, volumes: state.volumePaths ?? [:], uid: uid)
            let terminationPath = container.terminationMessagePath ?? "/dev/termination-log"
            if !mounts.contains(where: { $0.containerPath == terminationPath }) {
                mounts.append(ContainerMount(containerPath: terminationPath,
                                             hostPath: try volumes.terminationLogFile(uid: uid, container: container.name, attempt: attempt)))
            }
            let env = pod.spec.enableServiceLinks == false ? [] : await serviceEnv(pod.metadata.namespace ?? "default")
            containerConfig = try await builder.build(container, attempt: attempt, mounts: mounts, qos: qos,
                                                      memoryCapacity: config.memoryCapacity, serviceEnv: env)
        } catch {
            state.waiting[container.name] = WaitingReason(reason: "CreateContainerConfigError", message: "\(error)")
            logger.warning("pod \(podName(pod)) container \(container.name): \(error)")
            return
        }
        let id: String
        do {
            let runtime = self.runtime, sandboxID = sandbox.id
            id = try await DetachedThread.run { try runtime.createContainer(sandboxID: sandboxID, containerConfig) }
        } catch let error as ImageNotFound {
            let never = container.imagePullPolicy == "Never"
            state.waiting[container.name] = WaitingReason(
                reason: never ? "ErrImageNeverPull" : "ErrImagePull",
                message: never ? "Container image \"\(error.reference)\" is not present with pull policy of Never"
                               : "image \"\(error.reference)\" is not in the node's image store (import it with `swiftlet image import`)")
            logger.warning("pod \(podName(pod)) container \(container.name): \(error)")
            return
        } catch {
            state.waiting[container.name] = WaitingReason(reason: "CreateContainerError", message: "\(error)")
            logger.warning("pod \(podName(pod)) container \(container.name): \(error)")
            return
        }
        do {
            try await startOffPool(id)
        } catch {
            // The runtime recorded a StartError exit; the restart policy takes it from here.
            logger.warning("pod \(podName(pod)) container \(container.name) failed to start: \(error)")
            return
        }
        if let hook = container.lifecycle?.postStart {
            if case .failure(let why) = await runHook(hook, container: container, containerID: id, podIP: podIP,
                                                      deadlineSeconds: gracePeriod(pod)) {
                logger.warning("pod \(podName(pod)) container \(container.name): PostStartHook failed: \(why)")
                state.waiting[container.name] = WaitingReason(reason: "PostStartHookError", message: why)
                try? await runtime.stopContainer(id, timeoutSeconds: gracePeriod(pod))
            }
        }
    }

    /// A postStart or preStop handler: exec in the container, HTTP GET, TCP, or sleep.
    func runHook(_ hook: LifecycleHandler, container: Container, containerID: String, podIP: String,
                 deadlineSeconds: Int64) async -> ProbeRunner.Outcome {
        let runner = probes.runner
        if let exec = hook.exec { return await runner.exec(exec.command ?? [], containerID: containerID, timeoutSeconds: max(1, deadlineSeconds)) }
        if let get = hook.httpGet, let port = ProbeRunner.port(get.port, in: container) {
            return await runner.httpGet(get, host: podIP, port: port, timeoutSeconds: max(1, deadlineSeconds))
        }
        if let tcp = hook.tcpSocket, let port = ProbeRunner.port(tcp.port, in: container) {
            return await runner.tcp(host: tcp.host ?? podIP, port: port, timeoutSeconds: max(1, deadlineSeconds))
        }
        if let sleep = hook.sleep {
            try? await Task.sleep(nanoseconds: UInt64(max(0, min(sleep.seconds, deadlineSeconds))) * 1_000_000_000)
            return .success
        }
        return .failure("hook has no handler")
    }

    /// Stops every container (all at once, each with the grace period), then removes the
    /// sandboxes, the volumes and the pod's log directory.
    func terminate(uid: String, pod: Pod?, gracePeriodSeconds: Int64) async {
        let view = view(uid: uid)
        probes.forget(uid: uid)
        let podIP = view.readySandbox?.network?.ips.first ?? "127.0.0.1"
        await withTaskGroup(of: Void.self) { group in
            for c in view.containers where c.state == .running {
                let spec = pod.flatMap { p in ((p.spec.initContainers ?? []) + p.spec.containers).first { $0.name == c.record.config.name } }
                group.addTask {
                    var remaining = gracePeriodSeconds
                    if let spec, let hook = spec.lifecycle?.preStop {
                        // preStop runs within the grace period; what is left goes to SIGTERM.
                        let start = Date()
                        _ = await runHook(hook, container: spec, containerID: c.record.id, podIP: podIP, deadlineSeconds: gracePeriodSeconds)
                        remaining = max(2, gracePeriodSeconds - Int64(Date().timeIntervalSince(start)))
                    }
                    try? await runtime.stopContainer(c.record.id, timeoutSeconds: remaining)
                }
            }
        }
        for sandbox in view.sandboxes {
            do { try await runtime.removePodSandbox(sandbox.id) } catch {
                logger.warning("removing sandbox \(sandbox.id) of pod \(uid): \(error)")
            }
        }
        do { try volumes.tearDown(uid: uid) } catch { logger.warning("removing volumes of pod \(uid): \(error)") }
        if let pod {
            try? FileSystem.removeTree("\(config.podLogDir)/\(pod.metadata.namespace ?? "default")_\(pod.metadata.name ?? "")_\(uid)")
        } else if let sandbox = view.sandboxes.first, !sandbox.config.logDirectory.isEmpty {
            try? FileSystem.removeTree(sandbox.config.logDirectory)
        }
        backoff.forget(prefix: uid + "/")
    }
}

extension PodSyncer {
    /// Starts a created container on a thread of its own: the call waits for the shim to
    /// report the exec, milliseconds in which one of the two cooperative-pool threads of a
    /// 2-core node would otherwise sit idle while other pods' syncs queue behind it.
    func startOffPool(_ id: String) async throws {
        let runtime = self.runtime
        try await DetachedThread.run { try runtime.startContainer(id) }
    }
}
