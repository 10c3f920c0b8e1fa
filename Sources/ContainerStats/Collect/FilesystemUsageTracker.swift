import LinuxPrimitives

/// Directory usage (writable layers, log dirs, emptyDir volumes) measured on its own schedule
/// by a rate-limited walker, so that no scrape and no housekeeping round ever waits for a tree
/// walk, and many containers never turn into a `du` storm: one directory is walked at a time,
/// in slices of `sliceEntries` entries with pauses that cap the pace at `entriesPerSecond`.
/// Each directory is re-walked once per `interval`; new directories jump the queue. Readers
/// get the last completed value.
public actor FilesystemUsageTracker {
    public struct Result: Sendable, Equatable {
        public var usage: DirectoryUsageWalker.Usage
        /// Seconds since the epoch when the walk finished.
        public var time: Double
    }

    private struct Entry {
        var result: Result?
        var nextDue: UInt64  // monotonic ns
        var failure: String?
    }

    private var entries: [String: Entry] = [:]
    private let interval: Duration
    private let entriesPerSecond: Int
    private let sliceEntries: Int

    private static let pollNanos: UInt64 = 200_000_000

    public init(interval: Duration = .seconds(60), entriesPerSecond: Int = 50_000, sliceEntries: Int = 1_000) {
        self.interval = interval
        self.entriesPerSecond = max(1, entriesPerSecond)
        self.sliceEntries = max(1, sliceEntries)
    }

    /// Sets the directories to measure; the rest are forgotten.
    public func track(_ paths: Set<String>) {
        for path in paths where entries[path] == nil {
            entries[path] = Entry(result: nil, nextDue: 0, failure: nil)
        }
        for path in entries.keys where !paths.contains(path) { entries[path] = nil }
    }

    /// The last completed measurement of every tracked directory that has one.
    public func results() -> [String: Result] {
        entries.compactMapValues { $0.result }
    }

    public func failures() -> [String: String] {
        entries.compactMapValues { $0.failure }
    }

    /// Walks due directories until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            if let path = nextDuePath() {
                await walk(path)
                continue
            }
            // Sleep until the earliest due time, but look again soon: new directories are due
            // at once and should not wait for a long sleep to end.
            let now = HostConstants.monotonicNanoseconds()
            let earliest = entries.values.map(\.nextDue).min()
            let waitNanos = earliest.map { $0 > now ? $0 - now : 0 } ?? Self.pollNanos
            try await Task.sleep(for: .nanoseconds(Int64(min(waitNanos, Self.pollNanos))))
        }
    }

    private func nextDuePath() -> String? {
        let now = HostConstants.monotonicNanoseconds()
        return entries.filter { $0.value.nextDue <= now }.min { $0.value.nextDue < $1.value.nextDue }?.key
    }

    private func walk(_ path: String) async {
        let walker: DirectoryUsageWalker
        do {
            walker = try DirectoryUsageWalker(root: path)
        } catch {
            finish(path, result: nil, failure: "\(error)")
            return
        }
        let pause = Duration.nanoseconds(Int64(sliceEntries) * 1_000_000_000 / Int64(entriesPerSecond))
        while true {
            if let usage = walker.step(budget: sliceEntries) {
                finish(path, result: Result(usage: usage, time: HostConstants.wallClockSeconds()), failure: nil)
                return
            }
            if Task.isCancelled { return }
            try? await Task.sleep(for: pause)
            if entries[path] == nil { return }  // untracked while we walked
        }
    }

    private func finish(_ path: String, result: Result?, failure: String?) {
        guard var entry = entries[path] else { return }
        if let result { entry.result = result }
        entry.failure = failure
        let (seconds, attoseconds) = interval.components
        let nanos = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        entry.nextDue = HostConstants.monotonicNanoseconds() + nanos
        entries[path] = entry
    }
}
