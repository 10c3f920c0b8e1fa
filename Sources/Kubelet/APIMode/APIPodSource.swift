import Foundation
import KubeAPI
import KubeClient
import Logging

/// Pods bound to this node, from the API server (list + watch with
/// `fieldSelector=spec.nodeName=<node>`), into the pod workers; and, when a deleted pod's
/// containers are gone, the final delete (grace 0) that lets the API server forget it.
/// Mirror pods are never run: they go to the mirror pod manager.
struct APIPodSource: Sendable {
    let client: KubeClient
    let nodeName: String
    let workers: PodWorkers
    let mirrors: MirrorPodManager
    let logger: Logger

    func run(ready: @escaping @Sendable () -> Void) async {
        let informer = Informer(client: client, path: "/api/v1/pods", fieldSelector: "spec.nodeName=\(nodeName)", logger: logger)
        await informer.run { update in
            switch update {
            case .snapshot(let items):
                let all = items.compactMap(decode)
                await mirrors.replaceMirrors(all.filter(MirrorPod.isMirror))
                let pods = all.filter { !MirrorPod.isMirror($0) }
                await workers.reconcile(pods.filter { $0.metadata.deletionTimestamp == nil }, source: "api")
                for pod in pods where pod.metadata.deletionTimestamp != nil { await delete(pod) }
                ready()
            case .added(let object), .modified(let object):
                guard let pod = decode(object), let uid = pod.metadata.uid else { return }
                if MirrorPod.isMirror(pod) { return await mirrors.mirrorChanged(pod) }
                if pod.metadata.deletionTimestamp != nil { await delete(pod) } else { await workers.update(pod, uid: uid) }
            case .deleted(let object):
                guard let pod = decode(object), let uid = pod.metadata.uid else { return }
                if MirrorPod.isMirror(pod) { return await mirrors.mirrorRemoved(pod) }
                await workers.delete(uid, gracePeriod: pod.metadata.deletionGracePeriodSeconds)
            }
        }
    }

    func delete(_ pod: Pod) async {
        guard let uid = pod.metadata.uid else { return }
        if await workers.current(uid) == nil {
            // Nothing runs for it here (never started, or already terminated): confirm at once.
            await Self.confirmDeletion(pod, client: client, logger: logger)
        } else {
            await workers.delete(uid, gracePeriod: pod.metadata.deletionGracePeriodSeconds, pod: pod)
        }
    }

    func decode(_ object: JSONValue) -> Pod? {
        do { return try object.decoded(as: Pod.self) } catch {
            logger.warning("ignoring a pod the API server sent: \(error)")
            return nil
        }
    }

    /// The final delete of a pod whose containers are all stopped (gracePeriodSeconds 0, uid
    /// precondition so a new pod of the same name is never hit).
    static func confirmDeletion(_ pod: Pod, client: KubeClient, logger: Logger) async {
        guard let uid = pod.metadata.uid, let name = pod.metadata.name else { return }
        let ns = pod.metadata.namespace ?? "default"
        do {
            _ = try await client.delete("/api/v1/namespaces/\(ns)/pods/\(name)", body: .object([
                "kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "gracePeriodSeconds": .int(0),
                "preconditions": .object(["uid": .string(uid)]),
            ]))
        } catch let error as KubeAPIError where error.isNotFound || error.isConflict {
        } catch {
            logger.warning("confirming deletion of pod \(ns)/\(name): \(error)")
        }
    }
}

/// Reports pod statuses to the API server (`pods/status`, merge patch), only when they
/// changed, latest status wins. A static pod's status goes to its mirror pod (UID
/// precondition on the mirror's UID); while it has none, the status waits for the mirror.
final class StatusManager: Sendable {
    let client: KubeClient
    let logger: Logger
    let mirrors: MirrorPodManager
    private let stream: AsyncStream<Pod>
    private let continuation: AsyncStream<Pod>.Continuation
    /// Statuses the API server did not take (unreachable): offered again every 2 s.
    private let retry = LockedDictionary<String, Pod>()

    init(client: KubeClient, logger: Logger, mirrors: MirrorPodManager) {
        self.client = client
        self.logger = logger
        self.mirrors = mirrors
        (stream, continuation) = AsyncStream.makeStream(of: Pod.self)
    }

    func enqueue(_ pod: Pod) {
        guard !MirrorPod.isMirror(pod) else { return }
        continuation.yield(pod)
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 2_000_000_000)
                    for (uid, pod) in self.retry.snapshot() {
                        self.retry.remove(uid)
                        self.continuation.yield(pod)
                    }
                }
            }
            group.addTask { await self.send() }
        }
    }

    private func send() async {
        var sent: [String: PodStatus] = [:]
        for await pod in stream {
            guard var uid = pod.metadata.uid, let name = pod.metadata.name, let status = pod.status else { continue }
            if MirrorPod.isStatic(pod) {
                guard let mirrorUID = await mirrors.mirrorUID(forStatic: pod) else { continue }
                uid = mirrorUID
            }
            guard sent[uid] != status else { continue }
            let ns = pod.metadata.namespace ?? "default"
            do {
                var body = try JSONValue.encoding(status)
                if body["conditions"] == nil { body["conditions"] = .array([]) }
                _ = try await client.patch("/api/v1/namespaces/\(ns)/pods/\(name)/status",
                                           .object(["metadata": .object(["uid": .string(uid)]), "status": body]))
                sent[uid] = status
            } catch let error as KubeAPIError where error.isNotFound || error.isConflict {
                sent[uid] = nil
            } catch {
                logger.warning("reporting status of pod \(ns)/\(name): \(error)")
                sent[uid] = nil
                retry.set(pod.metadata.uid ?? uid, pod)
            }
            if sent.count > 10_000 { sent.removeAll() }
        }
    }
}
