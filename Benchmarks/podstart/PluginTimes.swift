import Foundation
import LinuxPrimitives
import Networking
import Runtime

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

/// Wraps the pod network and records the whole ADD (`setUp`: thread hop, configuration,
/// result cache, every plugin) beside the plugins' own times.
struct TimingNetwork: PodNetwork {
    let inner: any PodNetwork
    let times: PluginTimes

    func setUp(_ request: PodNetworkRequest) async throws -> PodNetworkStatus {
        let t0 = WallClock.monotonicNanos()
        defer { times.add("whole ADD (PodNetwork.setUp)", Double(WallClock.monotonicNanos() - t0) / 1e6) }
        return try await inner.setUp(request)
    }
    func tearDown(_ request: PodNetworkRequest) async throws { try await inner.tearDown(request) }
    func check(_ request: PodNetworkRequest) async -> Bool { await inner.check(request) }
    func garbageCollect(valid: [PodNetworkRequest]) async { await inner.garbageCollect(valid: valid) }
    func readiness() async -> String? { await inner.readiness() }
}
