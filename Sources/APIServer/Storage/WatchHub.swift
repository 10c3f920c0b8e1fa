import NIOCore
import Synchronization

/// Fans committed changes out to watchers and keeps a bounded window of recent events so that a
/// watch can resume from a recent resourceVersion; older ones get 410 Gone, like upstream's
/// watch cache after compaction.
public final class WatchHub: Sendable {
    public struct Subscription: Sendable {
        public let id: Int
        /// Events at or below the requested resourceVersion already in the window, in order.
        public let replay: [StoreEvent]
        public let stream: AsyncStream<StoreEvent>
    }

    public struct TooOld: Error, Sendable {
        public let requested: Int64
        public let oldest: Int64
    }

    struct Subscriber {
        let resource: String
        let namespace: String?
        let continuation: AsyncStream<StoreEvent>.Continuation
    }

    struct State {
        var history = CircularBuffer<StoreEvent>()
        var bytes = 0
        /// Every event with rv > `floor` is in `history`.
        var floor: Int64
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 1
        /// The newest published resourceVersion.
        var latest: Int64
    }

    private let state: Mutex<State>
    let maxEvents: Int
    let maxBytes: Int
    /// How many undelivered events a watcher may fall behind before it is closed (the client
    /// then re-watches from its last resourceVersion, as with upstream's slow-watcher cutoff).
    let bufferLimit: Int

    public init(startRV: Int64, maxEvents: Int = 10_000, maxBytes: Int = 8 << 20, bufferLimit: Int = 4096) {
        state = Mutex(State(floor: startRV, latest: startRV))
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.bufferLimit = bufferLimit
    }

    /// Called by the store in commit order, under the store's write lock.
    func publish(_ e: StoreEvent) {
        let dropped: [AsyncStream<StoreEvent>.Continuation] = state.withLock { s in
            var dropped: [AsyncStream<StoreEvent>.Continuation] = []
            s.latest = e.rv
            s.history.append(e.forHistory)
            s.bytes += e.byteCost
            while s.history.count > maxEvents || (s.bytes > maxBytes && s.history.count > 1) {
                let old = s.history.removeFirst()
                s.bytes -= old.byteCost
                s.floor = old.rv
            }
            for (_, sub) in s.subscribers where sub.resource == e.key.resource || sub.resource == WatchHub.allResources {
                if let ns = sub.namespace, ns != e.key.namespace { continue }
                if case .dropped = sub.continuation.yield(e) { dropped.append(sub.continuation) }
            }
            return dropped
        }
        // Finishing runs onTermination, which takes the lock again: do it outside.
        for c in dropped { c.finish() }
    }

    /// Subscribes to every resource (the garbage collector's view).
    public static let allResources = "*"

    /// Subscribes to changes of one resource (optionally one namespace) after `fromRV`.
    func subscribe(resource: String, namespace: String?, fromRV: Int64) throws(TooOld) -> Subscription {
        let (stream, cont) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let result: Result<Subscription, TooOld> = state.withLock { s in
            if fromRV < s.floor { return .failure(TooOld(requested: fromRV, oldest: s.floor + 1)) }
            var replay: [StoreEvent] = []
            // Binary search would do; windows are short and resumes rare.
            for e in s.history where e.rv > fromRV && (e.key.resource == resource || resource == WatchHub.allResources) {
                if let namespace, namespace != e.key.namespace { continue }
                replay.append(e)
            }
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = Subscriber(resource: resource, namespace: namespace, continuation: cont)
            return .success(Subscription(id: id, replay: replay, stream: stream))
        }
        switch result {
        case .success(let sub):
            cont.onTermination = { [weak self] _ in self?.unsubscribe(sub.id) }
            return sub
        case .failure(let e): throw e
        }
    }

    /// Sends every watcher a BOOKMARK at the newest resourceVersion. It travels in the same
    /// ordered stream as the changes, so a watcher never reports a version past an event it has
    /// not delivered yet.
    public func bookmark() {
        let dropped: [AsyncStream<StoreEvent>.Continuation] = state.withLock { s in
            let e = StoreEvent(type: .bookmark, key: ObjectKey("", "", ""), rv: s.latest, data: [], prevData: nil)
            var dropped: [AsyncStream<StoreEvent>.Continuation] = []
            for (_, sub) in s.subscribers {
                if case .dropped = sub.continuation.yield(e) { dropped.append(sub.continuation) }
            }
            return dropped
        }
        for c in dropped { c.finish() }
    }

    func unsubscribe(_ id: Int) {
        let sub = state.withLock { $0.subscribers.removeValue(forKey: id) }
        sub?.continuation.finish()
    }

    /// Ends every watch (server shutdown).
    func finishAll() {
        let subs = state.withLock { s in
            let all = s.subscribers.values
            s.subscribers = [:]
            return Array(all)
        }
        for s in subs { s.continuation.finish() }
    }

    var watcherCount: Int { state.withLock { $0.subscribers.count } }
    var oldestResumableRV: Int64 { state.withLock { $0.floor } }
}
