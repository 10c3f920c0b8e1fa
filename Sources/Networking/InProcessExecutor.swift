import CNIPlugins
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Synchronization

/// Runs our own plugins (swiftlet-bridge, -host-local, -loopback, -portmap) inside the agent
/// instead of starting their executables, and every other plugin as `SpawnExecutor` does.
/// A plugin process costs a fork, an exec and the loading of a static binary per plugin and
/// verb, three or four times per pod start: most of a networked pod's start before this.
///
/// The plugin's code is the same (`CNIPlugins`, which the executables are one line over) and
/// so are its inputs and outputs: the environment and stdin decode into the same request, and
/// the result, the spec's error object and the exit status come back as the process would
/// print them (`PluginMain.respond`). The on-disk state (result cache, host-local's files and
/// lock) is the same, so an agent may switch between modes, and DEL, CHECK and GC work across.
///
/// Which file runs in process (the rule a user can rely on): the plugin located on the search
/// path must have one of our names *and* be the very file we ship beside the agent executable
/// (`referenceDirectory`: same device and inode) or a byte-identical copy of it (as `install`
/// into /opt/cni/bin makes). Anything else under our name — a newer or older build, a wrapper
/// script, the user's own binary — is executed. `--cni-exec-own-plugins` executes always.
///
/// Process-wide state: the plugins never exit, chdir, umask, change signals or the
/// environment (the request carries its environment); they enter pod namespaces only through
/// `NetworkNamespace.run`, which puts the thread back; netlink and nftables sockets are opened
/// per call; host-local's flock is taken on a descriptor of its own per call, so concurrent
/// calls in this process serialise as separate processes do. The slow kernel clean-up the
/// executables leave to a forked child goes to a detached thread here (`Afterlife.thread`).
/// Like every executor it blocks: call it from a thread that may block (`CNIPodNetwork` does).
public struct InProcessExecutor: PluginExecutor {
    /// As `SpawnExecutor.networkNamespace`: the plugins' "host" namespace (tests); the calling
    /// thread enters it for the call and is always put back.
    public var networkNamespace: String?
    let shipped: ShippedPlugins

    /// `referenceDirectory`: where the agent's own plugin executables are (beside the agent's
    /// executable); nil when there is none, and then every plugin is executed.
    public init(referenceDirectory: String?, networkNamespace: String? = nil) {
        self.networkNamespace = networkNamespace
        self.shipped = ShippedPlugins(directory: referenceDirectory)
    }

    /// The agent's setting: the reference copies are the plugins beside this executable.
    public static func besideThisExecutable(networkNamespace: String? = nil) -> InProcessExecutor {
        InProcessExecutor(referenceDirectory: CNIPodNetwork.ownDirectory(), networkNamespace: networkNamespace)
    }

    public func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard OwnPlugins.names.contains(name), shipped.isShipped(path, name: name) else {
            return try SpawnExecutor(networkNamespace: networkNamespace).execute(path: path, environment: environment, stdin: stdin)
        }
        func respond() -> PluginResponse? {
            OwnPlugins.respond(name: name, environment: environment, stdin: stdin, afterlife: .thread)
        }
        let answer: PluginResponse?
        if let networkNamespace {
            answer = try NetworkNamespace.run(networkNamespace) { respond() }
        } else {
            answer = respond()
        }
        guard let answer else {
            return try SpawnExecutor(networkNamespace: networkNamespace).execute(path: path, environment: environment, stdin: stdin)
        }
        return Subprocess.Result(answering: .exited(answer.exitCode), stdout: answer.stdout, stderr: answer.stderr)
    }

    /// Whether a plugin found on the search path would run in process (for logs and tests).
    public func runsInProcess(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return OwnPlugins.names.contains(name) && shipped.isShipped(path, name: name)
    }
}

/// The comparison of a located plugin file with the one shipped beside the agent. The
/// verdict for a pair of files is remembered by both files' identity (device, inode, size,
/// modification and change times), so a replaced or rewritten file is compared afresh and an
/// unchanged one costs two stat calls.
final class ShippedPlugins: Sendable {
    let directory: String?
    private let verdicts = Mutex<[Pair: Bool]>([:])

    /// A file as it is now: a rewrite in place changes size or times, a replacement the inode.
    struct FileVersion: Hashable, Sendable {
        var device: UInt64, inode: UInt64, size: Int64
        var modified: Int64, modifiedNanoseconds: Int64, changed: Int64, changedNanoseconds: Int64

        init?(_ path: String) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            modified = Int64(st.st_mtim.tv_sec)
            modifiedNanoseconds = Int64(st.st_mtim.tv_nsec)
            changed = Int64(st.st_ctim.tv_sec)
            changedNanoseconds = Int64(st.st_ctim.tv_nsec)
        }
    }

    struct Pair: Hashable, Sendable {
        var candidate: FileVersion, reference: FileVersion
    }

    init(directory: String?) { self.directory = directory }

    func isShipped(_ path: String, name: String) -> Bool {
        guard let directory else { return false }
        let referencePath = directory + "/" + name
        guard let candidate = FileVersion(path), let reference = FileVersion(referencePath) else { return false }
        if candidate.device == reference.device && candidate.inode == reference.inode { return true }
        guard candidate.size == reference.size else { return false }
        let pair = Pair(candidate: candidate, reference: reference)
        if let known = verdicts.withLock({ $0[pair] }) { return known }
        let same = ShippedPlugins.sameContent(path, referencePath)
        verdicts.withLock { $0[pair] = same }
        return same
    }

    /// Byte for byte; run once per pair of file versions (the plugins are a few MiB).
    static func sameContent(_ a: String, _ b: String) -> Bool {
        guard let left = try? FileDescriptor.open(a, O_RDONLY) else { return false }
        defer { left.close() }
        guard let right = try? FileDescriptor.open(b, O_RDONLY) else { return false }
        defer { right.close() }
        guard let x = try? left.readAll(), let y = try? right.readAll() else { return false }
        return x == y
    }
}
