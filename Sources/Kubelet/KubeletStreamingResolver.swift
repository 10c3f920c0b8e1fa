import Runtime
import Streaming

/// Maps the kubelet paths `kubectl exec`/`attach`/`port-forward` arrive on (through the API
/// server's proxy) to the runtime's ids: the pod as this kubelet knows it, then its newest
/// running container of that name, or its ready sandbox.
struct KubeletStreamingResolver: StreamingResolver {
    let statuses: PodStatusStore
    let runtime: RuntimeService

    func containerID(namespace: String, pod: String, uid: String?, container: String) async -> String? {
        guard let podUID = self.uid(namespace: namespace, pod: pod, uid: uid) else { return nil }
        return runtime.listContainers()
            .filter { $0.config.labels["io.kubernetes.pod.uid"] == podUID && $0.config.name == container }
            .filter { (try? runtime.containerStatus($0.id).state) == .running }
            .max { ($0.config.attempt, $0.createdAt) < ($1.config.attempt, $1.createdAt) }?.id
    }

    func sandboxID(namespace: String, pod: String, uid: String?) async -> String? {
        guard let podUID = self.uid(namespace: namespace, pod: pod, uid: uid) else { return nil }
        return runtime.listPodSandboxes()
            .filter { $0.config.labels["io.kubernetes.pod.uid"] == podUID && $0.state == .ready }
            .max { $0.createdAt < $1.createdAt }?.id
    }

    private func uid(namespace: String, pod: String, uid: String?) -> String? {
        guard let known = statuses.pod(namespace: namespace, name: pod)?.metadata.uid else { return nil }
        if let uid, !uid.isEmpty, uid != known { return nil }
        return known
    }
}
