import CNI
import Glibc
import LinuxPrimitives

/// Runs a delegated plugin (IPAM) the way a runtime would: found on CNI_PATH, our own
/// environment with CNI_COMMAND set to the verb, and our stdin document as its config.
public enum Delegate {
    /// Finds `type` in the search path; the error names the directories searched.
    public static func find(_ type: String, in path: [String]) throws(CNIError) -> String {
        guard !type.isEmpty, !type.contains("/") else { throw CNIError.config("plugin type \"\(type)\" is not a plugin name") }
        for directory in path where !directory.isEmpty {
            let candidate = directory.hasSuffix("/") ? directory + type : directory + "/" + type
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw CNIError.generic("failed to find plugin \"\(type)\" in path [\(path.joined(separator: " "))]")
    }

    /// Runs the delegate; returns its stdout on success, throws its error object otherwise.
    @discardableResult
    public static func exec(_ type: String, command: PluginRequest.Command, request: PluginRequest,
                            stdin: [UInt8]? = nil) throws -> [UInt8] {
        let binary = try find(type, in: request.path)
        var environment = request.environment.filter { !$0.hasPrefix("CNI_COMMAND=") }
        environment.append("CNI_COMMAND=" + command.rawValue)
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(binary, arguments: [type], environment: environment, input: stdin ?? request.stdin)
        } catch {
            throw CNIError.generic("failed to run plugin \(type)", details: "\(error)")
        }
        if result.status.succeeded { return result.stdout }
        if let parsed = try? JSON.parse(result.stdout), let failure = CNIError(json: parsed) { throw failure }
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        throw CNIError.generic("plugin \(type) failed (\(command.rawValue)) with \(result.status)", details: stderr)
    }

    /// ADD on the delegate, decoded as a result.
    public static func add(_ type: String, request: PluginRequest) throws -> CNIResult {
        let output = try exec(type, command: .add, request: request)
        let document: JSON
        do { document = try JSON.parse(output) } catch {
            throw CNIError(code: CNIError.decodeFailure, msg: "plugin \(type) printed a result that is not JSON", details: error.description)
        }
        return try CNIResult(json: document)
    }
}
