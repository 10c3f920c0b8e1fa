import CNI

/// Why pod networking failed, phrased for a pod event or status message: every case names the
/// file, plugin, network and verb involved.
public enum PodNetworkError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No configuration file in the directory (and writing the default was not allowed).
    case noConfiguration(directory: String)
    /// A configuration file that cannot be used.
    case invalidConfiguration(path: String, reason: String)
    /// The plugin named by a configuration's `type` is in none of the search directories.
    case pluginNotFound(type: String, searchPath: [String])
    /// The plugin ran and reported the spec's error object.
    case pluginFailed(type: String, command: String, network: String, error: CNIError)
    /// The plugin failed without a parseable error (crashed, killed, printed garbage).
    case pluginCrashed(type: String, command: String, network: String, status: String, stderr: String)
    /// The plugin succeeded but its result cannot be used.
    case invalidResult(type: String, network: String, reason: String)
    /// Reading or writing the result cache or configuration failed.
    case io(path: String, reason: String)
    /// Nothing is known about the attachment (no cached ADD result).
    case unknownAttachment(network: String, containerID: String, ifname: String)

    public var description: String {
        switch self {
        case .noConfiguration(let directory):
            return "no CNI network configuration found in \(directory)"
        case .invalidConfiguration(let path, let reason):
            return "invalid CNI network configuration \(path): \(reason)"
        case .pluginNotFound(let type, let searchPath):
            return "CNI plugin \"\(type)\" not found in \(searchPath.joined(separator: ":"))"
        case .pluginFailed(let type, let command, let network, let error):
            return "CNI plugin \(type) failed (\(command)) on network \"\(network)\": \(error)"
        case .pluginCrashed(let type, let command, let network, let status, let stderr):
            let tail = stderr.isEmpty ? "" : ": \(stderr)"
            return "CNI plugin \(type) failed (\(command)) on network \"\(network)\" with \(status) and no error result\(tail)"
        case .invalidResult(let type, let network, let reason):
            return "CNI plugin \(type) on network \"\(network)\" returned an unusable result: \(reason)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .unknownAttachment(let network, let containerID, let ifname):
            return "no cached CNI result for \(containerID)/\(ifname) on network \"\(network)\""
        }
    }

    /// The spec's error code when a plugin reported one.
    public var cniCode: UInt? {
        if case .pluginFailed(_, _, _, let error) = self { return error.code }
        return nil
    }
}
