import Glibc
import LinuxNetlink
import LinuxPrimitives

/// How a plugin process is run: the one swappable mechanism of the runtime side. The real
/// one spawns; tests may record calls, or run the plugins inside a test network namespace.
public protocol PluginExecutor: Sendable {
    /// Runs `path` with `environment` and `stdin`, returning its exit status and output.
    func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result
}

/// posix_spawn the plugin (LinuxPrimitives.Subprocess). With `networkNamespace` set, the
/// plugin starts inside that namespace instead of ours: the child inherits the network
/// namespace of the spawning thread, which enters it for the spawn only. Used by tests (the
/// node is a namespace they made) and by an agent that keeps pods in a namespace of its own.
public struct SpawnExecutor: PluginExecutor {
    public var networkNamespace: String?

    public init(networkNamespace: String? = nil) {
        self.networkNamespace = networkNamespace
    }

    public func execute(path: String, environment: [String], stdin: [UInt8]) throws -> Subprocess.Result {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let networkNamespace else {
            return try Subprocess.run(path, arguments: [name], environment: environment, input: stdin)
        }
        return try NetworkNamespace.run(networkNamespace) {
            try Subprocess.run(path, arguments: [name], environment: environment, input: stdin)
        }
    }
}

/// Finds plugins on the search path (`--cni-bin-dir`, colon-separated).
public struct PluginLocator: Sendable {
    public var directories: [String]

    public init(directories: [String]) { self.directories = directories }

    /// Splits a colon-separated list, dropping empty entries.
    public init(searchPath: String) {
        directories = searchPath.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    public func find(_ type: String) throws(PodNetworkError) -> String {
        for directory in directories {
            let candidate = directory.hasSuffix("/") ? directory + type : directory + "/" + type
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw .pluginNotFound(type: type, searchPath: directories)
    }

    public var joined: String { directories.joined(separator: ":") }
}
