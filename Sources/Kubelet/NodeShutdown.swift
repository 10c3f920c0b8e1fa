import Foundation
import KubeAPI

extension Kubelet {
    /// Pods kubelet treats as critical in a node shutdown (stopped last).
    static func isCritical(_ pod: Pod) -> Bool {
        let cls = pod.spec.priorityClassName ?? ""
        return cls == "system-node-critical" || cls == "system-cluster-critical" || (pod.spec.priority ?? 0) >= 2_000_000_000
    }

    /// Graceful node shutdown as kubelet does it: regular pods first, then critical ones, each
    /// group within its share of `grace` (critical pods get `criticalGrace` of it). Stopped pods
    /// end Failed with reason `Terminated`.
    public func shutdownNode(grace: Duration, criticalGrace: Duration) async {
        let total = Double(grace.components.seconds)
        let critical = min(total, Double(criticalGrace.components.seconds))
        let regularBudget = max(1, total - critical)
        shuttingDown.set("node", true)
        let pods = statuses.all()
        for (group, budget) in [(pods.filter { !Self.isCritical($0) }, regularBudget), (pods.filter(Self.isCritical), max(1, critical))] {
            let uids = group.compactMap(\.metadata.uid)
            for pod in group {
                guard let uid = pod.metadata.uid else { continue }
                let own = pod.spec.terminationGracePeriodSeconds ?? 30
                await workers.delete(uid, gracePeriod: min(own, Int64(budget)), reason: .nodeShutdown)
            }
            let deadline = Date().addingTimeInterval(budget + 1)
            while Date() < deadline {
                let known = await workers.knownUIDs()
                if uids.allSatisfy({ !known.contains($0) }) { break }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        logger.notice("node shutdown: all pods stopped")
    }

    /// The status kubelet leaves on a pod stopped for a node shutdown.
    static func shutdownStatus(_ previous: PodStatus?) -> PodStatus {
        var status = previous ?? PodStatus()
        status.phase = "Failed"
        status.reason = "Terminated"
        status.message = "Pod was terminated in response to imminent node shutdown."
        return status
    }

    /// Whether the main loops are alive (for the systemd watchdog): the housekeeping tick
    /// advanced recently.
    public func isHealthy() -> Bool {
        guard let last = heartbeat.get("tick") else { return true }
        return Date().timeIntervalSince(last) < 30
    }
}
