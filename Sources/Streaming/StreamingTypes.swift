import NIOCore

/// What an exec stream runs and which of its stdio the client streams.
public struct ExecOptions: Sendable, Equatable {
    public var containerID: String
    public var command: [String]
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    /// With a terminal, output is one stream (stdout) and `stderr` must be false.
    public var tty: Bool

    public init(containerID: String, command: [String], stdin: Bool = false, stdout: Bool = true, stderr: Bool = true, tty: Bool = false) {
        self.containerID = containerID
        self.command = command
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr && !tty
        self.tty = tty
    }
}

/// Which of a running container's stdio an attach streams.
public struct AttachOptions: Sendable, Equatable {
    public var containerID: String
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    public var tty: Bool

    public init(containerID: String, stdin: Bool = false, stdout: Bool = true, stderr: Bool = true, tty: Bool = false) {
        self.containerID = containerID
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr && !tty
        self.tty = tty
    }
}

/// The pod whose ports a port-forward stream reaches; `ports` may be empty for SPDY, whose
/// client names the port per stream.
public struct PortForwardOptions: Sendable, Equatable {
    public var sandboxID: String
    public var ports: [UInt16]

    public init(sandboxID: String, ports: [UInt16] = []) {
        self.sandboxID = sandboxID
        self.ports = ports
    }
}

/// A terminal's size as kubectl sends it on the resize stream (`{"Width":80,"Height":24}`).
public struct TerminalSize: Sendable, Equatable, Codable {
    public var width: UInt16
    public var height: UInt16

    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case width = "Width"
        case height = "Height"
    }
}

/// An attachment in progress (see `StreamingRuntime.attach`).
public protocol StreamingAttachment: Sendable {
    /// Waits until the container exits (its exit code) or the attachment is closed (nil).
    func wait() async -> Int32?
    /// Detaches; the runtime stops writing to the descriptors it was given.
    func close()
}

/// What the streaming server needs from the container runtime. Every descriptor passed in is
/// the caller's: the runtime duplicates what it keeps and never closes these.
public protocol StreamingRuntime: Sendable {
    /// Runs `options.command` in the container with these descriptors as its stdin, stdout and
    /// stderr (a pty slave for all three when `options.tty`); returns its exit code.
    func exec(_ options: ExecOptions, stdin: Int32, stdout: Int32, stderr: Int32) async throws -> Int32

    /// Attaches to the container's own stdio: its output is written to `stdout`/`stderr` (only
    /// `stdout` with a terminal), and what arrives on `stdin` (when not nil) becomes its input.
    func attach(_ options: AttachOptions, stdin: Int32?, stdout: Int32, stderr: Int32) async throws -> any StreamingAttachment

    /// The window size of an attached tty container's terminal.
    func resize(containerID: String, to size: TerminalSize) async throws

    /// A connected TCP socket to `port` on the sandbox's loopback. The caller owns it.
    func connect(sandboxID: String, port: UInt16) async throws -> Int32
}

/// Maps kubelet-style paths (`/exec/{namespace}/{pod}/{container}`) to runtime ids, for the
/// agent's kubelet port; the CRI URLs carry tokens and need none of this.
public protocol StreamingResolver: Sendable {
    /// The running container `container` of the pod, if there is one (`uid` when the path has it).
    func containerID(namespace: String, pod: String, uid: String?, container: String) async -> String?
    /// The ready sandbox of the pod.
    func sandboxID(namespace: String, pod: String, uid: String?) async -> String?
}

/// Errors the streaming server reports to clients as HTTP statuses before an upgrade.
public struct StreamingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let status: Int
    public let message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}
