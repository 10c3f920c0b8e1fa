import Foundation
import KubeAPI
import Synchronization

/// Wakes a waiting worker early; a signal with nobody waiting is kept for the next wait.
final class WakeSignal: Sendable {
    private struct State: ~Copyable {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>? = nil
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `seconds`, or when the task is cancelled.
    func wait(seconds: Double) async {
        if state.withLock({ s in
            let was = s.pending
            s.pending = false
            return was
        }) { return }
        let timer = Task { [self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            signal()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            signal()
        }
        timer.cancel()
        state.withLock { $0.pending = false }
    }
}

/// One worker per pod UID, latest update wins (kubelet's pod workers): the worker loop reads
/// the newest desired pod each round; updates and runtime events only wake it.
actor PodWorkers {
    enum DeletionReason: Sendable { case removed, nodeShutdown }

    struct Entry {
        var pod: Pod
        var deleting = false
        var reason: DeletionReason = .removed
        var gracePeriod: Int64
        let wake = WakeSignal()
    }

    private var entries: [String: Entry] = [:]
    private let starts: AsyncStream<String>.Continuation
    /// UIDs whose worker must be started; consumed by the kubelet's task group.
    nonisolated let startRequests: AsyncStream<String>

    init() {
        (startRequests, starts) = AsyncStream.makeStream(of: String.self)
    }

    /// A source's full set of pods: new ones get workers, changed ones are updated, missing
    /// ones are deleted gracefully.
    func reconcile(_ pods: [Pod], source: String = "file") {
        var desired: [String: Pod] = [:]
        for pod in pods { if let uid = pod.metadata.uid { desired[uid] = pod } }
        for (uid, pod) in desired { update(pod, uid: uid) }
        for (uid, entry) in entries where desired[uid] == nil && !entry.deleting
            && (entry.pod.metadata.annotations?["kubernetes.io/config.source"] ?? "api") == source {
            delete(uid)
        }
    }

    func update(_ pod: Pod, uid: String) {
        if var entry = entries[uid] {
            guard !entry.deleting else { return }
            entry.pod = pod
            entry.gracePeriod = pod.spec.terminationGracePeriodSeconds ?? 30
            entries[uid] = entry
            entry.wake.signal()
        } else {
            entries[uid] = Entry(pod: pod, gracePeriod: pod.spec.terminationGracePeriodSeconds ?? 30)
            starts.yield(uid)
        }
    }

    /// Marks the pod for termination (with its grace period unless one is given).
    func delete(_ uid: String, gracePeriod: Int64? = nil, reason: DeletionReason = .removed, pod: Pod? = nil) {
        guard var entry = entries[uid] else { return }
        if let pod { entry.pod = pod }
        entry.deleting = true
        entry.reason = reason
        if let gracePeriod { entry.gracePeriod = gracePeriod }
        entries[uid] = entry
        entry.wake.signal()
    }

    /// Terminates a pod the runtime has but no source wants (found after a restart).
    func adoptOrphan(_ uid: String, pod: Pod) {
        guard entries[uid] == nil else { return }
        var entry = Entry(pod: pod, gracePeriod: pod.spec.terminationGracePeriodSeconds ?? 30)
        entry.deleting = true
        entries[uid] = entry
        starts.yield(uid)
    }

    func wake(_ uid: String) { entries[uid]?.wake.signal() }
    func wakeAll() { for e in entries.values { e.wake.signal() } }

    func current(_ uid: String) -> Entry? { entries[uid] }
    func finished(_ uid: String) { entries.removeValue(forKey: uid) }
    func knownUIDs() -> Set<String> { Set(entries.keys) }
    func count() -> Int { entries.count }
}
