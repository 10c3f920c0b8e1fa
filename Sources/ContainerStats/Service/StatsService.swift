import LinuxPrimitives
import Prometheus
import ServiceLifecycle
import Synchronization

/// Settings of the stats module; the agent maps its flags onto these.
public struct StatsConfiguration: Sendable {
    /// `--housekeeping-interval`: how often every cgroup is sampled (default 10 s).
    public var housekeepingInterval: Duration = .seconds(10)
    /// How often each tracked directory is walked again for its usage.
    public var filesystemUsageInterval: Duration = .seconds(60)
    /// Upper bound on directory entries visited per second by the walker.
    public var filesystemWalkEntriesPerSecond: Int = 50_000
    /// The cgroup2 mount to read; detected from /proc/self/mountinfo when nil.
    public var cgroupLayout: CgroupLayout?
    /// Render /metrics/cadvisor right after each round (a few ms of CPU per round for hundreds
    /// of containers), so every scrape is served from ready bytes. Off: the first scrape of a
    /// round renders (and later scrapes of that round reuse it).
    public var prerenderCadvisor: Bool = true
    /// Registry of the agent's swift-metrics (PrometheusMetricsFactory); emitted on `/metrics`,
    /// and the stats module records its own round durations in it.
    public var metricsRegistry: PrometheusCollectorRegistry?

    public init() {}
}

/// The stats module as one service: a housekeeping loop that samples every target each
/// interval into an in-memory snapshot, and the directory walker on its own schedule.
/// Endpoints only format the latest snapshot, so a scrape never touches cgroupfs.
///
/// Run it in the agent's ServiceGroup (`run()` returns on graceful shutdown), and mount
/// `endpoints` on the HTTP server (ContainerStatsHTTP's `addStatsRoutes`).
public final class StatsService: Service, Sendable {
    public let configuration: StatsConfiguration
    public let layout: CgroupLayout
    public let machine: MachineInfo
    public let endpoints: StatsEndpoints
    public let agentMetrics: AgentMetrics

    private let source: any StatsTargetSource
    let housekeeper: Housekeeper
    private let filesystems: FilesystemUsageTracker
    private let store: SnapshotStore
    private let roundDurations: DurationHistogram?
    private let rounds: RoundCounter

    /// Detects the cgroup layout and reads the machine description; starts nothing.
    public init(source: any StatsTargetSource, configuration: StatsConfiguration = StatsConfiguration()) throws {
        self.configuration = configuration
        self.source = source
        let layout = try configuration.cgroupLayout ?? CgroupLayout.detect()
        self.layout = layout
        let filesystems = FilesystemUsageTracker(interval: configuration.filesystemUsageInterval,
                                                 entriesPerSecond: configuration.filesystemWalkEntriesPerSecond)
        self.filesystems = filesystems
        let housekeeper = Housekeeper(layout: layout, filesystems: filesystems)
        self.housekeeper = housekeeper
        self.machine = housekeeper.machine
        let store = SnapshotStore()
        self.store = store
        self.endpoints = StatsEndpoints(store: store, machine: housekeeper.machine)
        self.agentMetrics = AgentMetrics(registry: configuration.metricsRegistry)
        self.roundDurations = configuration.metricsRegistry?.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "swiftlet", subsystem: "stats", metricName: "housekeeping_duration",
                                             unitName: "seconds", helpText: "Time one stats housekeeping round took."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)])
        let rounds = RoundCounter()
        self.rounds = rounds
        agentMetrics.append { [store] in
            var w = PrometheusTextWriter(capacity: 512)
            let (count, last) = rounds.value
            w.header("swiftlet_stats_housekeeping_rounds_total", help: "Stats housekeeping rounds completed.", kind: .counter)
            w.series("swiftlet_stats_housekeeping_rounds_total", .empty)
            w.value(count)
            w.header("swiftlet_stats_housekeeping_last_duration_seconds", help: "Duration of the last stats housekeeping round.", kind: .gauge)
            w.series("swiftlet_stats_housekeeping_last_duration_seconds", .empty)
            w.value(last)
            let containers = store.latest.map { $0.pods.reduce(0) { $0 + $1.containers.count } } ?? 0
            w.header("swiftlet_stats_containers", help: "Containers sampled in the last stats housekeeping round.", kind: .gauge)
            w.series("swiftlet_stats_containers", .empty)
            w.value(UInt64(containers))
            return w.bytes
        }
    }

    /// The latest snapshot, nil before the first round.
    public var latestSnapshot: StatsSnapshot? { store.latest }

    /// Runs one housekeeping round now and publishes it (the loop calls this; tests and
    /// benchmarks call it directly).
    @discardableResult
    public func housekeepOnce() async -> StatsSnapshot {
        let targets = await source.statsTargets()
        let snapshot = await housekeeper.round(targets)
        store.publish(snapshot)
        if configuration.prerenderCadvisor { _ = store.cadvisorBody() }
        rounds.record(snapshot.collectionSeconds)
        roundDurations?.record(.nanoseconds(Int64(snapshot.collectionSeconds * 1e9)))
        return snapshot
    }

    /// Housekeeping every `housekeepingInterval` plus the directory walker, until cancelled or
    /// the ServiceGroup shuts down gracefully.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await self.filesystems.run() }
                    group.addTask { try await self.housekeepingLoop() }
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// Runs only the directory walker (for callers that drive `housekeepOnce` themselves).
    public func runFilesystemWalker() async throws {
        try await filesystems.run()
    }

    private func housekeepingLoop() async throws {
        let clock = ContinuousClock()
        var next = clock.now
        while !Task.isCancelled {
            await housekeepOnce()
            next = next.advanced(by: configuration.housekeepingInterval)
            if next < clock.now { next = clock.now }  // a slow round: do not try to catch up
            try await Task.sleep(until: next, clock: clock)
        }
    }
}

/// Rounds done and the last one's duration, for the agent's /metrics.
final class RoundCounter: Sendable {
    private let state = Mutex((count: UInt64(0), lastSeconds: 0.0))

    var value: (count: UInt64, lastSeconds: Double) { state.withLock { $0 } }

    func record(_ seconds: Double) {
        state.withLock { $0 = ($0.count + 1, seconds) }
    }
}

/// Holds the latest snapshot for readers on any thread, and its cAdvisor exposition once a
/// scrape has rendered it (so further scrapers of the same round get the bytes as they are).
final class SnapshotStore: Sendable {
    private struct State {
        var snapshot: StatsSnapshot?
        var generation: UInt64 = 0
        var cadvisor: [UInt8]?
    }

    private let state = Mutex(State())

    var latest: StatsSnapshot? { state.withLock { $0.snapshot } }

    func publish(_ snapshot: StatsSnapshot) {
        state.withLock {
            $0.snapshot = snapshot
            $0.generation &+= 1
            $0.cadvisor = nil
        }
    }

    /// The latest snapshot's /metrics/cadvisor body, rendered outside the lock on first use.
    func cadvisorBody() -> [UInt8]? {
        let (snapshot, generation, cached) = state.withLock { ($0.snapshot, $0.generation, $0.cadvisor) }
        if let cached { return cached }
        guard let snapshot else { return nil }
        let body = CadvisorMetrics.render(snapshot)
        state.withLock { if $0.generation == generation { $0.cadvisor = body } }
        return body
    }
}
