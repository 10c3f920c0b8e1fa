import Foundation
import LinuxPrimitives
import Networking

/// Times of each plugin invocation by "<plugin> <verb>", for the phase breakdown.
final class PluginTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [Double]] = [:]

    func add(_ label: String, _ ms: Double) {
        lock.lock(); defer { lock.unlock() }
        values[label, default: []].append(ms)
    }

    func sorted() -> [(String, [Double])] {
        lock.lock(); defer { lock.unlock() }
        return values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// Wraps the real executor and records how long each plugin call took.
struct TimingExecutor: PluginExecutor {
    let inner: any PluginExecutor
    let times: PluginTimes

    func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let verb = environment.last { $0.hasPrefix("CNI_COMMAND=") }.map { String($0.dropFirst(12)) } ?? "?"
        let t0 = WallClock.monotonicNanos()
        defer { times.add("\(name) \(verb)", Double(WallClock.monotonicNanos() - t0) / 1e6) }
        return try inner.execute(path: path, environment: environment, stdin: stdin)
    }
}
