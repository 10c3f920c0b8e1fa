import Foundation
import LinuxPrimitives

/// A network namespace made for one test with `ip netns add` (observation and setup only),
/// removed by `remove()` (call it in a `defer`).
final class TestNamespace: @unchecked Sendable {
    let name: String
    var path: String { "/run/netns/\(name)" }

    init(_ prefix: String = "swnl") throws {
        name = "\(prefix)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        try shell("ip netns add \(name) && ip -n \(name) link set lo up")
    }

    func remove() { _ = try? shell("ip netns del \(name)") }

    /// Runs a command inside the namespace and returns its stdout.
    @discardableResult
    func run(_ command: String) throws -> String { try shell("ip netns exec \(name) \(command)") }
}

struct ShellError: Error, CustomStringConvertible {
    let command: String
    let status: Subprocess.ExitStatus
    let stderr: String
    var description: String { "`\(command)` failed (\(status)): \(stderr)" }
}

/// Runs `/bin/sh -c command`; throws with stderr when it fails.
@discardableResult
func shell(_ command: String) throws -> String {
    let result = try Subprocess.run("/bin/sh", arguments: ["sh", "-c", command],
                                    environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    guard result.status.succeeded else {
        throw ShellError(command: command, status: result.status, stderr: String(decoding: result.stderr, as: UTF8.self))
    }
    return String(decoding: result.stdout, as: UTF8.self)
}
