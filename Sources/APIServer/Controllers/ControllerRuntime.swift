import Logging
import Synchronization

/// One reconcile loop, in the style of kube-controller-manager: store events map to keys, a
/// deduplicating queue feeds a single worker, failures are retried with backoff, and a
/// periodic resync re-enqueues everything in case an event was missed. Controllers read
/// from SQLite on demand instead of caching every object, so memory stays flat.
protocol Controller: Sendable {
    var name: String { get }
    /// Storage keys of the resources whose changes concern this controller
    /// (`WatchHub.allResources` for every resource).
    var watches: [String] { get }
    /// Keys to reconcile for one change.
    func keys(for event: StoreEvent) async -> [String]
    /// Keys to reconcile on resync (and at start).
    func resyncKeys() async throws -> [String]
    /// Brings the world in line for one key. Throwing retries it later.
    func sync(_ key: String) async throws
    /// Optional periodic work besides resync (node monitoring); called every `tickInterval`.
    var tickInterval: Duration? { get }
    func tick() async throws
}

extension Controller {
    var tickInterval: Duration? { nil }
    func tick() async throws {}
}

/// A deduplicating FIFO of keys: a key queued twice before it is processed runs once.
final class WorkQueue: Sendable {
    private struct State {
        var pending: [String] = []
        var head = 0
        var queued = Set<String>()
        var waiter: CheckedContinuation<String?, Never>?
        var closed = false
        var delayed: [(due: ContinuousClock.Instant, key: String)] = []

        mutating func pop() -> String? {
            guard head < pending.count else { return nil }
            let k = pending[head]
            head += 1
            if head > 1024, head * 2 > pending.count {
                pending.removeFirst(head)
                head = 0
            }
            queued.remove(k)
            return k
        }
    }

    private let state = Mutex(State())

    func add(_ key: String) {
        let w: CheckedContinuation<String?, Never>? = state.withLock { s in
            guard !s.closed, !s.queued.contains(key) else { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.queued.insert(key)
            s.pending.append(key)
            return nil
        }
        w?.resume(returning: key)
    }

    /// The next key; nil once closed or when the calling task is cancelled.
    func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
                let ready: String?? = state.withLock { s in
                    if let k = s.pop() { return .some(k) }
                    if s.closed { return .some(nil) }
                    s.waiter = c
                    return nil
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    /// Queues `key` again once `delay` has passed (retries with backoff).
    func add(_ key: String, after delay: Duration) {
        state.withLock { $0.delayed.append((ContinuousClock.now + delay, key)) }
    }

    /// Moves retries that are due into the queue.
    func promoteDue() {
        let now = ContinuousClock.now
        let due: [String] = state.withLock { s in
            let ready = s.delayed.filter { $0.due <= now }.map(\.key)
            s.delayed.removeAll { $0.due <= now }
            return ready
        }
        for k in due { add(k) }
    }

    func close() {
        let w: CheckedContinuation<String?, Never>? = state.withLock { s in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
    }

    var count: Int { state.withLock { $0.pending.count - $0.head } }
}

struct ControllerRunner: Sendable {
    let controller: any Controller
    let store: Store
    let resync: Duration
    let logger: Logger

    func run() async throws {
        let queue = WorkQueue()
        let c = controller
        let subs = try c.watches.map { try store.subscribe(resource: $0, namespace: nil, fromRV: store.currentRV) }
        try await withThrowingDiscardingTaskGroup { group in
            for sub in subs {
                group.addTask {
                    for await e in sub.stream where e.type != .bookmark {
                        for k in await c.keys(for: e) { queue.add(k) }
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do {
                        for k in try await c.resyncKeys() { queue.add(k) }
                    } catch {
                        logger.warning("\(c.name): resync failed: \(error)")
                    }
                    try await Task.sleep(for: resync)
                }
            }
            if let interval = c.tickInterval {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await c.tick() } catch { logger.warning("\(c.name): \(error)") }
                        try await Task.sleep(for: interval)
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(100))
                    queue.promoteDue()
                }
            }
            group.addTask {
                var failures: [String: Int] = [:]
                while let key = await queue.next() {
                    do {
                        try await c.sync(key)
                        failures[key] = nil
                    } catch is CancellationError {
                        return
                    } catch {
                        let n = (failures[key] ?? 0) + 1
                        failures[key] = n
                        if n <= 3 || n % 10 == 0 { logger.warning("\(c.name): sync \(key) failed (\(n)): \(error)") }
                        queue.add(key, after: .milliseconds(min(100 << min(n, 8), 10_000)))
                    }
                }
            }
        }
    }
}

/// Runs the scheduler and the controllers side by side until cancelled.
struct ControllerManager: Sendable {
    let registry: Registry
    let settings: ControllerSettings
    let logger: Logger
    /// Signs approved node client certificate requests (nil: CSRs stay pending).
    var ca: CertificateAuthority? = nil

    func run() async throws {
        let events = EventRecorder(registry: registry)
        let controllers: [any Controller] = [
            Scheduler(registry: registry, events: events, logger: logger),
            ReplicaSetController(registry: registry, events: events, logger: logger),
            DeploymentController(registry: registry, events: events, logger: logger),
            GarbageCollector(registry: registry, logger: logger),
            EndpointSliceController(registry: registry, logger: logger),
            NamespaceController(registry: registry, logger: logger),
            NodeLifecycleController(registry: registry, settings: settings, events: events, logger: logger),
            TokenCleaner(registry: registry, logger: logger),
        ] + (ca.map { [CSRController(registry: registry, ca: $0, logger: logger) as any Controller] } ?? [])
        try await withThrowingDiscardingTaskGroup { group in
            for c in controllers {
                let runner = ControllerRunner(controller: c, store: registry.store, resync: settings.resyncPeriod, logger: logger)
                group.addTask { try await runner.run() }
            }
        }
    }
}
