import Synchronization

/// A target source holding a list someone sets: for tests, benchmarks and static setups
/// (the agent implements `StatsTargetSource` over its runtime instead).
public final class StaticTargetSource: StatsTargetSource {
    private let current: Mutex<StatsTargets>

    public init(_ targets: StatsTargets = StatsTargets()) {
        current = Mutex(targets)
    }

    public func set(_ targets: StatsTargets) {
        current.withLock { $0 = targets }
    }

    public func statsTargets() async -> StatsTargets {
        current.withLock { $0 }
    }
}
