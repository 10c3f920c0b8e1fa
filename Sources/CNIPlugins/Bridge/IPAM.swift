import CNI

/// The bridge's IPAM delegation. The spec has the plugin exec the IPAM plugin named by
/// `ipam.type`; when that is our own `swiftlet-host-local`, whose code is linked into this
/// binary anyway, the same code runs in-process instead: identical files, lock and result,
/// without a second process start per verb (the largest cost of a CNI call). Any other type,
/// or `SWIFTLET_IPAM_EXEC=1` in the environment, is executed as the spec describes.
enum IPAM {
    static let builtin = "swiftlet-host-local"

    static func inProcess(_ type: String, _ request: PluginRequest) -> Bool {
        type == builtin && !request.environment.contains("SWIFTLET_IPAM_EXEC=1")
    }

    static func add(_ type: String, _ request: PluginRequest) throws -> CNIResult {
        guard inProcess(type, request) else { return try Delegate.add(type, request: request) }
        return try HostLocalPlugin().add(request)
    }

    static func run(_ type: String, _ command: PluginRequest.Command, _ request: PluginRequest) throws {
        guard inProcess(type, request) else {
            try Delegate.exec(type, command: command, request: request)
            return
        }
        let plugin = HostLocalPlugin()
        switch command {
        case .add: _ = try plugin.add(request)
        case .del: try plugin.del(request)
        case .check: try plugin.check(request)
        case .status: try plugin.status(request)
        case .gc: try plugin.gc(request)
        case .version: break
        }
    }
}
