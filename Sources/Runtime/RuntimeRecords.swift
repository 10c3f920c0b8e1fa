import Foundation
import LinuxPrimitives
import ShimProtocol

public enum SandboxState: String, Codable, Sendable {
    case ready = "SANDBOX_READY"
    case notReady = "SANDBOX_NOTREADY"
}

/// A sandbox as stored in `<runDir>/sandboxes/<id>/sandbox.json`.
public struct SandboxRecord: Codable, Sendable, Equatable {
    public var id: String
    public var config: SandboxConfig
    public var createdAt: Int64
    public var state: SandboxState
    public var shimPID: Int32
    public var network: PodNetworkStatus?
    /// Absolute cgroup directory of the pod.
    public var cgroupDir: String
    /// Relative path of the pod cgroup inside the hierarchy.
    public var cgroupPath: String
    /// Limits that could not be enforced on this host (hybrid cgroups), said plainly.
    public var notEnforced: [String]
}

public enum ContainerState: String, Codable, Sendable {
    case created = "CONTAINER_CREATED"
    case running = "CONTAINER_RUNNING"
    case exited = "CONTAINER_EXITED"
    case unknown = "CONTAINER_UNKNOWN"
}

/// A container as stored in `<sandboxDir>/containers/<id>/container.json`; its process state
/// comes from the shim's `state` file beside it.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    public var sandboxID: String
    public var config: ContainerConfig
    public var imageID: String
    public var imageRef: String
    public var createdAt: Int64
    public var cgroupPath: String
    public var logPath: String
    public var upperDir: String
    public var notEnforced: [String]
    public var stopSignal: Int32
}

/// A container's status, as CRI's ContainerStatus carries it.
public struct ContainerStatusInfo: Sendable, Equatable {
    public var record: ContainerRecord
    public var state: ContainerState
    public var pid: Int32
    public var startedAt: Int64
    public var finishedAt: Int64
    public var exitCode: Int32
    /// `Completed`, `Error`, `OOMKilled`, `StartError` as kubelet and containerd name them.
    public var reason: String
    public var message: String
}

enum StateFiles {
    static func save<T: Encodable>(_ value: T, to path: String) throws {
        let data = try JSONEncoder().encode(value)
        try FileSystem.writeAtomically(path, [UInt8](data))
    }

    static func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(try FileSystem.readBytes(path)))
    }
}

/// Random 64-hex-digit identifiers, like containerd's.
enum Identifiers {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var out = ""
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            out += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return out
    }
}
