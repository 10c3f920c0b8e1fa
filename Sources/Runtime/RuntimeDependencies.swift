/// The image a container runs, as the runtime needs it: the overlay stack and the config.
public struct ResolvedImage: Sendable, Equatable {
    /// The image id (`sha256:` of its config).
    public var id: String
    /// The reference the caller asked for, normalised.
    public var reference: String
    /// Unpacked layer directories, top layer first (overlayfs `lowerdir=` order).
    public var layerDirs: [String]
    public var env: [String]
    public var entrypoint: [String]
    public var cmd: [String]
    public var workingDir: String
    /// `uid`, `uid:gid`, `name` or `name:group` from the image config.
    public var user: String
    public var stopSignal: String

    public init(id: String, reference: String, layerDirs: [String], env: [String] = [], entrypoint: [String] = [], cmd: [String] = [],
                workingDir: String = "", user: String = "", stopSignal: String = "") {
        self.id = id
        self.reference = reference
        self.layerDirs = layerDirs
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.user = user
        self.stopSignal = stopSignal
    }
}

public struct ImageNotFound: Error, CustomStringConvertible, Sendable {
    public let reference: String
    public init(reference: String) { self.reference = reference }
    public var description: String { "image \"\(reference)\" not found" }
}

/// Resolves image references to unpacked layers; the image store implements it, and keeps the
/// layers of an image in use by a container until `release`.
public protocol ImageProvider: Sendable {
    func resolve(_ reference: String) throws -> ResolvedImage
    /// Marks the image's layers in use by `containerID` (so removing the image keeps them).
    func retain(_ image: ResolvedImage, for containerID: String) throws
    func release(containerID: String) throws
}

/// A pod's network attachment, set up once its network namespace exists.
public struct PodNetworkStatus: Codable, Sendable, Equatable {
    public var ips: [String]
    public var interfaceName: String

    public init(ips: [String], interfaceName: String = "eth0") {
        self.ips = ips
        self.interfaceName = interfaceName
    }
}

public struct PodNetworkRequest: Sendable, Equatable {
    public var sandboxID: String
    public var namespace: String
    public var name: String
    public var uid: String
    public var netnsPath: String
    public var portMappings: [PortMapping]

    public init(sandboxID: String, namespace: String, name: String, uid: String, netnsPath: String, portMappings: [PortMapping]) {
        self.sandboxID = sandboxID
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.netnsPath = netnsPath
        self.portMappings = portMappings
    }
}

/// Wires a pod's network namespace into the node network (CNI in production).
public protocol PodNetwork: Sendable {
    func setUp(_ request: PodNetworkRequest) async throws -> PodNetworkStatus
    /// Idempotent; also called after a failed `setUp` and after an agent restart.
    func tearDown(_ request: PodNetworkRequest) async throws
    /// Verifies an adopted sandbox's attachment (CNI CHECK); false when it must be rebuilt.
    func check(_ request: PodNetworkRequest) async -> Bool
    /// Removes attachments of sandboxes that no longer exist (CNI GC).
    func garbageCollect(valid: [PodNetworkRequest]) async
    /// nil when the network is ready for pods, or why it is not (CNI STATUS).
    func readiness() async -> String?
}

/// Pods with only loopback: the agent with no CNI configured, and tests.
public struct LoopbackOnlyNetwork: PodNetwork {
    public init() {}
    public func setUp(_ request: PodNetworkRequest) async throws -> PodNetworkStatus { PodNetworkStatus(ips: []) }
    public func tearDown(_ request: PodNetworkRequest) async throws {}
    public func check(_ request: PodNetworkRequest) async -> Bool { true }
    public func garbageCollect(valid: [PodNetworkRequest]) async {}
    public func readiness() async -> String? { nil }
}
