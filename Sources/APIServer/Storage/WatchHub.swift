import NIOCore
import Synchronization

/// Fans committed changes out to watchers and keeps a bounded window of recent events so that a
/// watch can resume from a recent resourceVersion; older ones get 410 Gone, like upstream's
/// watch cache after compaction.
///
/// Two kinds of watcher: in-process consumers read an `AsyncStream`; HTTP watchers register a
/// `DirectSink` that is called in commit order right where the change is published, so an
/// event reaches the watcher's socket without waking a task per watcher.
public final class WatchHub: Sendable {
    public struct Subscription: Sendable {
        public let id: Int
        /// Events at or below the requested resourceVersion already in the window, in order.
        public let replay: [StoreEvent]
        public let stream: AsyncStream<StoreEvent>
    }

    public struct DirectSubscription: Sendable {
        public let id: Int
        public let replay: [StoreEvent]
        public let sink: DirectSink
    }

    public struct TooOld: Error, Sendable {
        public let requested: Int64
        public let oldest: Int64
    }

    enum Target {
        case stream(AsyncStream<StoreEvent>.Continuation)
        case direct(DirectSink)
    }

    struct Subscriber {
        let resource: String
        let namespace: String?
        let target: Target

        func matches(_ e: StoreEvent) -> Bool {
            if e.type == .bookmark { return true }
            guard resource == e.key.resource || resource == WatchHub.allResources else { return false }
            if let namespace, namespace != e.key.namespace { return false }
            return true
        }
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

    /// Subscribes to every resource (the garbage collector's view).
    public static let allResources = "*"

    public init(startRV: Int64, maxEvents: Int = 10_000, maxBytes: Int = 2 << 20, bufferLimit: Int = 4096) {
        state = Mutex(State(floor: startRV, latest: startRV))
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.bufferLimit = bufferLimit
    }

    /// Called by the store in commit order, under the store's write lock.
    func publish(_ e: StoreEvent) {
        deliver(e) { s in
            s.latest = e.rv
            s.history.append(e.forHistory)
            s.bytes += e.byteCost
            while s.history.count > maxEvents || (s.bytes > maxBytes && s.history.count > 1) {
                let old = s.history.removeFirst()
                s.bytes -= old.byteCost
                s.floor = old.rv
            }
        }
    }

    /// Sends every watcher a BOOKMARK at the newest resourceVersion. It travels in the same
    /// ordered stream as the changes, so a watcher never reports a version past an event it has
    /// not delivered yet.
    public func bookmark() {
        let rv = state.withLock { $0.latest }
        deliver(StoreEvent(type: .bookmark, key: ObjectKey("", "", ""), rv: rv, data: [], prevData: nil)) { _ in }
    }

    private func deliver(_ e: StoreEvent, update: (inout State) -> Void) {
        let dropped: [(Int, Target)] = state.withLock { s in
            update(&s)
            var dropped: [(Int, Target)] = []
            for (id, sub) in s.subscribers where sub.matches(e) {
                switch sub.target {
                case .stream(let c):
                    if case .dropped = c.yield(e) { dropped.append((id, sub.target)) }
                case .direct(let d):
                    if !d.deliver(e, limit: bufferLimit) { dropped.append((id, sub.target)) }
                }
            }
            for (id, _) in dropped { s.subscribers[id] = nil }
            return dropped
        }
        // Finishing runs termination handlers, which may take the lock again: do it outside.
        for (_, t) in dropped { Self.finish(t) }
    }

    static func finish(_ t: Target) {
        switch t {
        case .stream(let c): c.finish()
        case .direct(let d): d.close()
        }
    }

    private func register(resource: String, namespace: String?, fromRV: Int64, target: Target) throws(TooOld) -> (Int, [StoreEvent]) {
        let r: Result<(Int, [StoreEvent]), TooOld> = state.withLock { s in
            if fromRV < s.floor { return .failure(TooOld(requested: fromRV, oldest: s.floor + 1)) }
            var replay: [StoreEvent] = []
            for e in s.history where e.rv > fromRV && (e.key.resource == resource || resource == WatchHub.allResources) {
                if let namespace, namespace != e.key.namespace { continue }
                replay.append(e)
            }
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = Subscriber(resource: resource, namespace: namespace, target: target)
            return .success((id, replay))
        }
        return try r.get()
    }

    /// Subscribes to changes of one resource (optionally one namespace) after `fromRV`.
    func subscribe(resource: String, namespace: String?, fromRV: Int64) throws(TooOld) -> Subscription {
        let (stream, cont) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let (id, replay) = try register(resource: resource, namespace: namespace, fromRV: fromRV, target: .stream(cont))
        cont.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return Subscription(id: id, replay: replay, stream: stream)
    }

    /// Subscribes a direct sink; events are buffered until the sink is activated.
    func subscribeDirect(resource: String, namespace: String?, fromRV: Int64) throws(TooOld) -> DirectSubscription {
        let sink = DirectSink()
        let (id, replay) = try register(resource: resource, namespace: namespace, fromRV: fromRV, target: .direct(sink))
        return DirectSubscription(id: id, replay: replay, sink: sink)
    }

    func unsubscribe(_ id: Int) {
        let sub = state.withLock { $0.subscribers.removeValue(forKey: id) }
        if let sub { Self.finish(sub.target) }
    }

    /// Ends every watch (server shutdown).
    func finishAll() {
        let subs = state.withLock { s in
            let all = s.subscribers.values
            s.subscribers = [:]
            return Array(all)
        }
        for s in subs { Self.finish(s.target) }
    }

    var watcherCount: Int { state.withLock { $0.subscribers.count } }
    var oldestResumableRV: Int64 { state.withLock { $0.floor } }
}

/// Where a direct watcher's events go. Until `activate`, events wait in a bounded buffer (the
/// watcher is still sending its initial state); after, each is handed to the sink function in
/// commit order. A sink returning false (its connection fell too far behind) is dropped.
public final class DirectSink: Sendable {
    public typealias Sink = @Sendable (StoreEvent) -> Bool

    private struct State {
        var buffer: [StoreEvent] = []
        var sink: Sink?
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func deliver(_ e: StoreEvent, limit: Int) -> Bool {
        state.withLock { s in
            if s.closed { return false }
            if let sink = s.sink { return sink(e) }
            if s.buffer.count >= limit { return false }
            s.buffer.append(e.forHistory)
            return true
        }
    }

    /// Flushes what was buffered through `sink` and hands it every later event.
    public func activate(_ sink: @escaping Sink) {
        let closeNow: (@Sendable () -> Void)? = state.withLock { s in
            for e in s.buffer where !sink(e) {
                s.closed = true
                break
            }
            s.buffer = []
            s.sink = s.closed ? nil : sink
            guard s.closed else { return nil }
            defer { s.onClose = nil }
            return s.onClose
        }
        closeNow?()
    }

    /// Called once when the hub drops this watcher.
    public func onClose(_ f: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            if !s.closed { s.onClose = f }
            return s.closed
        }
        if already { f() }
    }

    func close() {
        let f: (@Sendable () -> Void)? = state.withLock { s in
            s.closed = true
            s.sink = nil
            s.buffer = []
            defer { s.onClose = nil }
            return s.onClose
        }
        f?()
    }
}
