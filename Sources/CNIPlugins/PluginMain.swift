import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives

/// One invocation of a plugin, decoded from the environment and stdin (spec section 2).
public struct PluginRequest: Sendable {
    public enum Command: String, Sendable {
        case add = "ADD", del = "DEL", check = "CHECK", status = "STATUS", gc = "GC", version = "VERSION"
    }

    public var command: Command
    public var containerID: String
    public var netns: String
    public var ifname: String
    /// CNI_ARGS as ordered key/value pairs.
    public var args: [(String, String)]
    /// CNI_PATH split on ':'.
    public var path: [String]
    /// The whole stdin document.
    public var config: ConfigFields
    public var stdin: [UInt8]
    public var cniVersion: String
    public var networkName: String
    public var prevResult: CNIResult?
    /// Our environment, handed on to delegated plugins.
    public var environment: [String]
    /// Where the slow kernel clean-up after our answer goes: a child process when we are a
    /// plugin executable, a thread when the runtime runs us inside its own process.
    public var afterlife: Afterlife = .child

    public func arg(_ key: String) -> String? { args.last { $0.0 == key }?.1 }

    /// `runtimeConfig.<key>`, what the runtime filled in for a capability the plugin declared.
    public func runtimeConfig(_ key: String) -> JSON? { config.object["runtimeConfig"]?[key] }
}

/// What a plugin implements; verbs other than ADD and DEL have defaults that do nothing,
/// which is correct for plugins with no state and nothing to check.
public protocol CNIPlugin {
    func add(_ request: PluginRequest) throws -> CNIResult
    func del(_ request: PluginRequest) throws
    func check(_ request: PluginRequest) throws
    func status(_ request: PluginRequest) throws
    func gc(_ request: PluginRequest) throws
}

extension CNIPlugin {
    public func check(_ request: PluginRequest) throws {}
    public func status(_ request: PluginRequest) throws {}
    public func gc(_ request: PluginRequest) throws {}
}

/// What one invocation answers, exactly as an executable would: its exit status (0, or 1 with
/// the spec's error object), stdout and stderr.
public struct PluginResponse: Sendable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
}

/// The executable's entry point: decode, dispatch, print, exit with the spec's conventions
/// (result or nothing on stdout and exit 0; the error object on stdout and exit 1).
public enum PluginMain {
    public static func run(_ plugin: some CNIPlugin, name: String) -> Never {
        let stdin = (try? FileDescriptor(rawValue: 0).readAll()) ?? []
        let response = respond(plugin, name: name, environment: currentEnvironment(), stdin: stdin, afterlife: .child)
        if !response.stdout.isEmpty { try? FileDescriptor(rawValue: 1).writeAll(response.stdout) }
        if !response.stderr.isEmpty { try? FileDescriptor(rawValue: 2).writeAll(response.stderr) }
        exit(response.exitCode)
    }

    /// One whole invocation without touching the process: the executable prints what this
    /// returns, and a runtime that runs our plugins in its own process (Networking's
    /// `InProcessExecutor`) hands it back as the plugin's output, so both paths give the
    /// same bytes, the same error object and the same exit status.
    public static func respond(_ plugin: some CNIPlugin, name: String, environment: [String], stdin: [UInt8],
                               afterlife: Afterlife) -> PluginResponse {
        var version = CNIVersion.current
        do {
            var request = try decode(environment: environment, stdin: stdin, pluginName: name)
            request.afterlife = afterlife
            version = request.cniVersion
            var stdout: [UInt8] = []
            switch request.command {
            case .version:
                let versions = JSON.array(CNIVersion.supported.map { .string($0) })
                stdout = JSON.object(JSONObject([("cniVersion", .string(request.cniVersion)), ("supportedVersions", versions)])).serialized()
            case .add:
                let result = try plugin.add(request)
                stdout = result.json(version: request.cniVersion).serialized()
            case .del: try plugin.del(request)
            case .check: try plugin.check(request)
            case .status: try plugin.status(request)
            case .gc: try plugin.gc(request)
            }
            return PluginResponse(exitCode: 0, stdout: stdout, stderr: [])
        } catch {
            var failure = cniError(from: error)
            failure.cniVersion = version
            return PluginResponse(exitCode: 1, stdout: failure.json.serialized(), stderr: Array("\(name): \(failure)\n".utf8))
        }
    }

    /// Maps any error to the spec's error object: ours carry their code; system and netlink
    /// failures become I/O failure (5) or internal error (999) with their full description.
    public static func cniError(from error: any Error) -> CNIError {
        switch error {
        case let error as CNIError: return error
        case let error as SystemError: return CNIError(code: CNIError.ioFailure, msg: error.description)
        case let error as NetlinkError: return CNIError(code: CNIError.internalError, msg: error.description)
        default: return CNIError(code: CNIError.internalError, msg: "\(error)")
        }
    }

    /// Decodes the environment and stdin; public so tests can check the protocol rules
    /// without spawning a process.
    public static func decode(environment: [String], stdin: [UInt8], pluginName: String) throws(CNIError) -> PluginRequest {
        var env: [String: String] = [:]
        for entry in environment {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            env[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        guard let commandText = env["CNI_COMMAND"], !commandText.isEmpty else {
            throw CNIError.environment("CNI_COMMAND is not set")
        }
        guard let command = PluginRequest.Command(rawValue: commandText) else {
            throw CNIError.environment("CNI_COMMAND \(commandText) is not one of ADD, DEL, CHECK, STATUS, GC, VERSION")
        }
        let document: JSON
        if command == .version && stdin.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d }) {
            document = .object(JSONObject())
        } else {
            do {
                document = try JSON.parse(stdin)
            } catch {
                throw CNIError(code: CNIError.decodeFailure, msg: "network configuration on stdin is not JSON", details: error.description)
            }
        }
        let config = try ConfigFields(document, path: "")
        let version = try config.string("cniVersion") ?? "0.1.0"
        if command == .version {
            return PluginRequest(command: .version, containerID: "", netns: "", ifname: "", args: [], path: [],
                                 config: config, stdin: stdin, cniVersion: CNIVersion.supported.contains(version) ? version : CNIVersion.current,
                                 networkName: "", prevResult: nil, environment: environment)
        }
        guard CNIVersion.supported.contains(version) else {
            throw CNIError(code: CNIError.incompatibleVersion, msg: "incompatible CNI versions",
                           details: "config is \"\(version)\", \(pluginName) supports \(CNIVersion.supported.joined(separator: ", "))")
        }
        let name = try config.string("name") ?? ""
        let containerID = env["CNI_CONTAINERID"] ?? ""
        let netns = env["CNI_NETNS"] ?? ""
        let ifname = env["CNI_IFNAME"] ?? ""
        switch command {
        case .add, .check:
            try requireContainerID(containerID)
            guard !netns.isEmpty else { throw CNIError.environment("CNI_NETNS is not set") }
            try requireInterfaceName(ifname)
        case .del:
            try requireContainerID(containerID)
            try requireInterfaceName(ifname)
        case .status, .gc, .version:
            break
        }
        let args = try parseArgs(env["CNI_ARGS"] ?? "")
        let path = (env["CNI_PATH"] ?? "").split(separator: ":").map(String.init)
        var prevResult: CNIResult? = nil
        if let raw = config.object["prevResult"], !raw.isNull {
            do {
                prevResult = try CNIResult(json: raw)
            } catch {
                throw CNIError(code: CNIError.decodeFailure, msg: "prevResult: \(error.msg)")
            }
        }
        if command == .check && prevResult == nil && CNIVersion.atLeast(version, "0.4.0") {
            throw CNIError.config("CHECK needs prevResult, the result of the ADD being checked")
        }
        return PluginRequest(command: command, containerID: containerID, netns: netns, ifname: ifname, args: args,
                             path: path, config: config, stdin: stdin, cniVersion: version, networkName: name,
                             prevResult: prevResult, environment: environment)
    }

    /// `K=V;K=V` (spec: alphanumeric pairs separated by semicolons).
    public static func parseArgs(_ text: String) throws(CNIError) -> [(String, String)] {
        var out: [(String, String)] = []
        for pair in text.split(separator: ";", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CNIError.environment("CNI_ARGS entry \"\(pair)\" is not KEY=VALUE")
            }
            out.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
        }
        return out
    }

    /// Spec: must start with an alphanumeric character, then alphanumerics, `_`, `.` or `-`.
    public static func requireContainerID(_ id: String) throws(CNIError) {
        guard let first = id.unicodeScalars.first else { throw CNIError.environment("CNI_CONTAINERID is not set") }
        func alnum(_ c: Unicode.Scalar) -> Bool { c.isASCII && (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)) }
        guard alnum(first), id.unicodeScalars.allSatisfy({ alnum($0) || $0 == "_" || $0 == "." || $0 == "-" }) else {
            throw CNIError.environment("CNI_CONTAINERID \"\(id)\" must start with a letter or digit and hold only letters, digits, '_', '.' and '-'")
        }
    }

    /// Spec: non-empty, not `.`/`..`, under 16 bytes, no `/`, `:` or whitespace.
    public static func requireInterfaceName(_ name: String) throws(CNIError) {
        guard !name.isEmpty else { throw CNIError.environment("CNI_IFNAME is not set") }
        guard name != "." && name != "..", name.utf8.count < 16,
              !name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace }) else {
            throw CNIError.environment("CNI_IFNAME \"\(name)\" is not a valid interface name (under 16 bytes, no '/', ':' or spaces, not '.' or '..')")
        }
    }

    /// The process environment as `K=V` strings.
    public static func currentEnvironment() -> [String] {
        var out: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            out.append(String(cString: entry))
            pointer += 1
        }
        return out
    }
}
