import CRIAPI
import Synchronization

/// Fans container lifecycle events out to every GetContainerEvents stream (kubelet's evented
/// PLEG subscribes once; crictl may add more). A subscriber that falls far behind loses the
/// oldest events rather than holding memory for ever.
final class ContainerEventHub: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<Runtime_V1_ContainerEventResponse>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    func subscribe() -> (id: Int, events: AsyncStream<Runtime_V1_ContainerEventResponse>) {
        let (stream, continuation) = AsyncStream<Runtime_V1_ContainerEventResponse>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = continuation }
        return (id, stream)
    }

    func unsubscribe(_ id: Int) {
        subscribers.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    func publish(_ event: Runtime_V1_ContainerEventResponse) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }

    func finishAll() {
        for continuation in subscribers.withLock({ s -> [AsyncStream<Runtime_V1_ContainerEventResponse>.Continuation] in
            defer { s.removeAll() }
            return Array(s.values)
        }) { continuation.finish() }
    }
}
