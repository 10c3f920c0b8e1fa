import Foundation
import KubeAPI
import Logging
import Runtime
import Synchronization

/// Liveness, readiness and startup probes, one task per probe of each running container
/// instance, with kubelet's semantics: initial delay, period, timeout, success and failure
/// thresholds; readiness starts false, liveness true; liveness and readiness wait for startup.
final class ProbeManager: Sendable {
    enum Kind: String, Sendable { case liveness, readiness, startup }

    struct Key: Hashable, Sendable {
        let uid: String
        let container: String
        let containerID: String
        let kind: Kind
    }

    struct Spec: Sendable {
        let key: Key
        let probe: Probe
        let container: Container
        let host: String
    }

    private let active = Mutex<Set<Key>>([])
    private let results = Mutex<[Key: Bool]>([:])
    private let starts: AsyncStream<Spec>.Continuation
    private let startRequests: AsyncStream<Spec>
    let runner: ProbeRunner
    let logger: Logger
    /// Called when a result changes (wakes the pod's worker).
    let onChange: @Sendable (String) async -> Void

    init(runner: ProbeRunner, logger: Logger, onChange: @escaping @Sendable (String) async -> Void) {
        (startRequests, starts) = AsyncStream.makeStream(of: Spec.self)
        self.runner = runner
        self.logger = logger
        self.onChange = onChange
    }

    /// Runs the probe tasks; lives in the kubelet's task group.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await spec in startRequests {
                group.addTask { await self.probeLoop(spec) }
            }
        }
    }

    /// Makes the set of probers match the pod's running container instances.
    func update(pod: Pod, uid: String, running: [(name: String, containerID: String)], podIP: String) {
        var wanted: [Key: Spec] = [:]
        let containers = (pod.spec.initContainers ?? []) + pod.spec.containers
        for (name, id) in running {
            guard let c = containers.first(where: { $0.name == name }) else { continue }
            for (kind, probe) in [(Kind.liveness, c.livenessProbe), (.readiness, c.readinessProbe), (.startup, c.startupProbe)] {
                guard let probe else { continue }
                let key = Key(uid: uid, container: name, containerID: id, kind: kind)
                wanted[key] = Spec(key: key, probe: probe, container: c, host: podIP)
            }
        }
        let toStart = active.withLock { set -> [Spec] in
            set = set.filter { $0.uid != uid || wanted[$0] != nil }
            let new = wanted.filter { !set.contains($0.key) }.map(\.value)
            for s in new { set.insert(s.key) }
            return new
        }
        results.withLock { r in r = r.filter { $0.key.uid != uid || wanted[$0.key] != nil } }
        for spec in toStart { starts.yield(spec) }
    }

    func forget(uid: String) {
        active.withLock { $0 = $0.filter { $0.uid != uid } }
        results.withLock { $0 = $0.filter { $0.key.uid != uid } }
    }

    /// nil until the probe has decided.
    func result(uid: String, container: String, containerID: String, kind: Kind) -> Bool? {
        results.withLock { $0[Key(uid: uid, container: container, containerID: containerID, kind: kind)] }
    }

    func isActive(_ key: Key) -> Bool { active.withLock { $0.contains(key) } }

    func probeLoop(_ spec: Spec) async {
        let p = spec.probe
        let period = Double(max(1, p.periodSeconds ?? 10))
        let timeout = Int64(max(1, p.timeoutSeconds ?? 1))
        let successThreshold = Int(max(1, p.successThreshold ?? 1))
        let failureThreshold = Int(max(1, p.failureThreshold ?? 3))
        var current: Bool? = spec.key.kind == .liveness ? true : nil
        var successes = 0, failures = 0
        try? await Task.sleep(nanoseconds: UInt64(max(0, p.initialDelaySeconds ?? 0)) * 1_000_000_000)
        while isActive(spec.key), !Task.isCancelled {
            let startupKey = Key(uid: spec.key.uid, container: spec.key.container, containerID: spec.key.containerID, kind: .startup)
            let waitingForStartup = spec.key.kind != .startup && spec.container.startupProbe != nil
                && results.withLock({ $0[startupKey] }) != true
            if !waitingForStartup {
                let outcome = await runOnce(spec, timeout: timeout)
                if outcome == .success {
                    successes += 1
                    failures = 0
                    if successes >= (spec.key.kind == .readiness ? successThreshold : 1) && current != true {
                        current = true
                        await publish(spec.key, true)
                        if spec.key.kind == .startup { return }
                    }
                } else {
                    failures += 1
                    successes = 0
                    if failures >= failureThreshold && current != false {
                        if case .failure(let why) = outcome {
                            logger.info("\(spec.key.kind.rawValue) probe of \(spec.key.container) (pod \(spec.key.uid)) failed: \(why)")
                        }
                        current = false
                        await publish(spec.key, false)
                        // A failed liveness or startup probe restarts the container: this prober is done.
                        if spec.key.kind != .readiness { return }
                    }
                }
            }
            try? await Task.sleep(nanoseconds: UInt64(period * 1e9))
        }
    }

    func publish(_ key: Key, _ value: Bool) async {
        results.withLock { $0[key] = value }
        await onChange(key.uid)
    }

    func runOnce(_ spec: Spec, timeout: Int64) async -> ProbeRunner.Outcome {
        let p = spec.probe
        if let exec = p.exec { return await runner.exec(exec.command ?? [], containerID: spec.key.containerID, timeoutSeconds: timeout) }
        if let get = p.httpGet {
            guard let port = ProbeRunner.port(get.port, in: spec.container) else { return .failure("unknown port \(get.port)") }
            return await runner.httpGet(get, host: spec.host, port: port, timeoutSeconds: timeout)
        }
        if let tcp = p.tcpSocket {
            guard let port = ProbeRunner.port(tcp.port, in: spec.container) else { return .failure("unknown port \(tcp.port)") }
            return await runner.tcp(host: tcp.host ?? spec.host, port: port, timeoutSeconds: timeout)
        }
        return .failure("probe has no handler (grpc probes are not supported)")
    }
}
