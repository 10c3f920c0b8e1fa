import Foundation
import KubeAPI
import KubeClient
import Logging

/// Keeps one mirror pod in the API server per static pod: learns the static pods from the file
/// source and the mirror pods from the pod watch, and applies `MirrorPlan` on every change and
/// every 10 s (which also retries while the API server or the Node is not there yet).
actor MirrorPodManager {
    let client: KubeClient
    let nodeName: String
    let logger: Logger
    /// Called with a static pod's UID when it has a new current mirror (made, re-made, or found
    /// after a restart), so that its status is sent there.
    let onNewMirror: @Sendable (String) -> Void
    private var statics: [String: Pod] = [:]
    private var staticsKnown = false
    private var mirrors: [String: MirrorRecord] = [:]
    private var mirrorsKnown = false
    private var nodeUID: String?
    private var lastError: [String: String] = [:]
    /// The mirror UID each static pod's status was last pointed at (by key).
    private var announced: [String: String] = [:]
    private nonisolated let wakeups: AsyncStream<Void>
    private nonisolated let wake: AsyncStream<Void>.Continuation

    init(client: KubeClient, nodeName: String, logger: Logger, onNewMirror: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.nodeName = nodeName
        self.logger = logger
        self.onNewMirror = onNewMirror
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The full set of static pods, after every scan of the manifest directory.
    func setStaticPods(_ pods: [Pod]) {
        var next: [String: Pod] = [:]
        for pod in pods where MirrorPod.isStatic(pod) { next[MirrorPod.key(pod)] = pod }
        let changed = !staticsKnown || next.mapValues(MirrorPod.hash(ofStatic:)) != statics.mapValues(MirrorPod.hash(ofStatic:))
        statics = next
        staticsKnown = true
        if changed { wake.yield() }
    }

    /// Every mirror pod bound to this node (after a list of the pod watch).
    func replaceMirrors(_ pods: [Pod]) {
        var next: [String: MirrorRecord] = [:]
        for pod in pods { if let record = MirrorRecord(pod) { next[MirrorPod.key(pod)] = record } }
        mirrors = next
        mirrorsKnown = true
        wake.yield()
    }

    /// A mirror pod was added or changed.
    func mirrorChanged(_ pod: Pod) {
        guard let record = MirrorRecord(pod) else { return }
        let key = MirrorPod.key(pod)
        guard mirrors[key] != record else { return }
        mirrors[key] = record
        wake.yield()
    }

    /// A mirror pod is gone; an event about an older one of the same name changes nothing.
    func mirrorRemoved(_ pod: Pod) {
        let key = MirrorPod.key(pod)
        guard let uid = pod.metadata.uid, mirrors[key]?.uid == uid else { return }
        mirrors[key] = nil
        wake.yield()
    }

    /// The current mirror pod's UID for a static pod, nil while it has none (its status waits).
    func mirrorUID(forStatic pod: Pod) -> String? {
        guard let record = mirrors[MirrorPod.key(pod)], !record.deleting, record.hash == MirrorPod.hash(ofStatic: pod) else { return nil }
        return record.uid
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            let wake = self.wake
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 10_000_000_000)
                    wake.yield()
                }
            }
            group.addTask {
                await withTaskCancellationHandler {
                    for await _ in self.wakeups { await self.sync() }
                } onCancel: {
                    wake.finish()
                }
            }
        }
    }

    /// One pass of the plan. Mirrors are only made once the API server's list is known, so a
    /// restarted agent adopts the mirrors it made before instead of colliding with them.
    func sync() async {
        guard mirrorsKnown else { return }
        let actions = MirrorPlan.actions(staticHashes: statics.mapValues(MirrorPod.hash(ofStatic:)), mirrors: mirrors,
                                         staticsKnown: staticsKnown)
        var deletedThroughAPI = Set<String>()
        var paused = false
        for action in actions {
            switch action {
            case .delete(let key, let uid):
                if mirrors[key]?.deleting == true { deletedThroughAPI.insert(key) }
                await delete(key: key, uid: uid)
            case .create(let key):
                if deletedThroughAPI.contains(key), !paused {
                    // `kubectl delete --wait` reads the name again after its DELETE: a mirror
                    // made again within milliseconds looks like the old pod never left, and
                    // kubectl waits forever. kubelet re-creates on its next sync; so do we.
                    paused = true
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                }
                guard let pod = statics[key], mirrors[key] == nil else { continue }
                await create(key: key, pod: pod)
            }
        }
        for (key, pod) in statics {
            guard let uid = mirrorUID(forStatic: pod), announced[key] != uid, let staticUID = pod.metadata.uid else { continue }
            announced[key] = uid
            onNewMirror(staticUID)
        }
        for key in announced.keys where statics[key] == nil { announced[key] = nil }
    }

    private func create(key: String, pod: Pod) async {
        let ns = pod.metadata.namespace ?? "default"
        do {
            let owner: String
            if let nodeUID { owner = nodeUID } else {
                guard let uid = try await client.get("/api/v1/nodes/\(nodeName)")["metadata"]?["uid"]?.stringValue else {
                    throw NodeNotRegistered(nodeName: nodeName)
                }
                nodeUID = uid
                owner = uid
            }
            let created = try await client.create("/api/v1/namespaces/\(ns)/pods", try MirrorPod.object(for: pod, nodeName: nodeName, nodeUID: owner))
            guard let uid = created["metadata"]?["uid"]?.stringValue else { return }
            mirrors[key] = MirrorRecord(uid: uid, hash: MirrorPod.hash(ofStatic: pod), deleting: false)
            lastError[key] = nil
            logger.info("created mirror pod \(key) for static pod \(pod.metadata.uid ?? "")")
        } catch let error as KubeAPIError where error.isAlreadyExists {
            // Made by an earlier run whose watch event has not arrived: adopt what is there.
            if let existing = try? await client.get("/api/v1/namespaces/\(ns)/pods/\(pod.metadata.name ?? "")").decoded(as: Pod.self),
               let record = MirrorRecord(existing)
            {
                mirrors[key] = record
                wake.yield()
            } else {
                report(key, "a pod named \(key) exists and is not a mirror pod; the static pod gets no mirror")
            }
        } catch let error as KubeAPIError where error.isNotFound && error.message.contains("nodes") {
            nodeUID = nil
            report(key, "creating mirror pod \(key): \(error)")
        } catch {
            if "\(error)".contains("UID mismatch") { nodeUID = nil }
            report(key, "creating mirror pod \(key): \(error)")
        }
    }

    private func delete(key: String, uid: String) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        do {
            _ = try await client.delete("/api/v1/namespaces/\(parts[0])/pods/\(parts[1])", body: .object([
                "kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "gracePeriodSeconds": .int(0),
                "preconditions": .object(["uid": .string(uid)]),
            ]))
            logger.info("deleted mirror pod \(key) (uid \(uid))")
        } catch let error as KubeAPIError where error.isNotFound || error.isConflict {
        } catch {
            report(key, "deleting mirror pod \(key): \(error)")
            return
        }
        if mirrors[key]?.uid == uid { mirrors[key] = nil }
    }

    /// Logs a failure once per key and message (the 10 s retry would repeat it otherwise).
    private func report(_ key: String, _ message: String) {
        guard lastError[key] != message else { return }
        lastError[key] = message
        logger.warning("\(message)")
    }
}

/// The Node object (owner of every mirror pod) has no UID to point at yet.
struct NodeNotRegistered: Error, CustomStringConvertible {
    let nodeName: String
    var description: String { "node \(nodeName) is not registered yet" }
}
