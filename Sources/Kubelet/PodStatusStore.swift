import KubeAPI
import Synchronization

/// The latest pod and status per UID, as `/pods` serves them and the status manager reports.
final class PodStatusStore: Sendable {
    private let entries = Mutex<[String: Pod]>([:])
    private let observers = Mutex<[@Sendable (Pod) -> Void]>([])

    /// Stores the pod with its status; observers hear only real changes.
    func set(_ pod: Pod, status: PodStatus?) {
        guard let uid = pod.metadata.uid else { return }
        var withStatus = pod
        withStatus.status = status
        let changed = entries.withLock { table -> Bool in
            let old = table[uid]
            table[uid] = withStatus
            return old?.status != status || old?.metadata != pod.metadata
        }
        if changed { for observer in observers.withLock({ $0 }) { observer(withStatus) } }
    }

    func remove(_ uid: String) { entries.withLock { _ = $0.removeValue(forKey: uid) } }
    func all() -> [Pod] { entries.withLock { Array($0.values) } }
    func pod(uid: String) -> Pod? { entries.withLock { $0[uid] } }

    func pod(namespace: String, name: String) -> Pod? {
        entries.withLock { $0.values.first { $0.metadata.namespace == namespace && $0.metadata.name == name } }
    }

    func observe(_ observer: @escaping @Sendable (Pod) -> Void) { observers.withLock { $0.append(observer) } }
}
