import Foundation
import Synchronization

/// kubelet's crash-loop back-off per container: the first restart is immediate, then 10 s
/// doubling to 300 s; a container that ran for 10 minutes starts over at 10 s.
final class RestartBackoff: Sendable {
    struct Entry {
        var delay: Double
        var lastRestart: Date
    }

    let initial: Double
    let maximum: Double
    let resetAfter: Double
    private let entries = Mutex<[String: Entry]>([:])

    init(initial: Double = 10, maximum: Double = 300, resetAfter: Double = 600) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// When the container `key`, which finished at `finishedAt` after running `ranFor`
    /// seconds, may start again; nil means now.
    func notBefore(_ key: String, finishedAt: Date, ranFor: Double) -> Date? {
        entries.withLock { table in
            guard let entry = table[key] else { return nil }
            if ranFor >= resetAfter {
                table[key] = nil
                return nil
            }
            let until = entry.lastRestart.addingTimeInterval(entry.delay)
            return until > Date() && finishedAt < until ? until : nil
        }
    }

    /// Records a restart now, growing the delay for the next one.
    func recordRestart(_ key: String) {
        entries.withLock { table in
            if var entry = table[key] {
                entry.delay = min(maximum, entry.delay * 2)
                entry.lastRestart = Date()
                table[key] = entry
            } else {
                table[key] = Entry(delay: initial, lastRestart: Date())
            }
        }
    }

    func reset(_ key: String) { entries.withLock { _ = $0.removeValue(forKey: key) } }

    func currentDelay(_ key: String) -> Double { entries.withLock { $0[key]?.delay ?? initial } }

    func forget(prefix: String) {
        entries.withLock { table in table = table.filter { !$0.key.hasPrefix(prefix) } }
    }
}
