import CNI
import LinuxPrimitives

/// A network configuration list (spec section 1), as read from a `.conflist` file, or a single
/// plugin configuration (`.conf`, `.json`) wrapped into a list of one as libcni does.
public struct NetworkConfigList: Sendable, Equatable {
    public struct Plugin: Sendable, Equatable {
        public var type: String
        /// Capabilities the plugin declared (`capabilities: {"portMappings": true}`).
        public var capabilities: [String]
        /// The plugin's configuration object exactly as written.
        public var raw: JSONObject
    }

    public var name: String
    /// The version used on the wire: `cniVersion`, or the highest of `cniVersions` we support.
    public var cniVersion: String
    public var disableCheck: Bool
    public var disableGC: Bool
    public var plugins: [Plugin]
    /// The list's bytes (what libcni caches as `config`, base64 in the cache file).
    public var bytes: [UInt8]
    /// Where it came from, for messages.
    public var source: String

    /// The extensions libcni considers, in its order of preference for the same name.
    public static let extensions = [".conf", ".conflist", ".json"]

    /// Parses a configuration list; errors name `source` and the field.
    public static func parse(_ bytes: [UInt8], source: String) throws(PodNetworkError) -> NetworkConfigList {
        let document: JSON
        do { document = try JSON.parse(bytes) } catch {
            throw .invalidConfiguration(path: source, reason: error.description)
        }
        do throws(CNIError) {
            let fields = try ConfigFields(document, path: "")
            if fields.has("plugins") { return try parseList(fields, bytes: bytes, source: source) }
            if source.hasSuffix(".conflist") {
                throw CNIError.config("plugins is required in a .conflist")
            }
            // A single plugin configuration: wrap it the way libcni's ConfListFromConf does.
            let name = try fields.requiredString("name")
            var list = JSONObject([("name", .string(name))])
            if let version = try fields.string("cniVersion") { list["cniVersion"] = .string(version) }
            list["plugins"] = .array([document])
            return try parseList(ConfigFields(list), bytes: JSON.object(list).serialized(), source: source)
        } catch {
            throw .invalidConfiguration(path: source, reason: error.msg)
        }
    }

    static func parseList(_ fields: ConfigFields, bytes: [UInt8], source: String) throws(CNIError) -> NetworkConfigList {
        let name = try fields.requiredString("name")
        // The spec restricts names to what can be a file name component in caches.
        guard !name.contains("/"), name != ".", name != "..", !name.contains(where: { $0.isWhitespace }) else {
            throw fields.invalid("name", "\"\(name)\" may not contain '/' or whitespace")
        }
        var version = try fields.string("cniVersion")
        if let versions = try fields.array("cniVersions") {
            let offered = versions.compactMap(\.stringValue).filter { CNIVersion.supported.contains($0) }
            if let best = offered.max(by: { !CNIVersion.atLeast($0, $1) }) { version = best }
        }
        guard let version else {
            throw fields.invalid("cniVersion", "is required (supported: \(CNIVersion.supported.joined(separator: ", ")))")
        }
        guard CNIVersion.parse(version) != nil else { throw fields.invalid("cniVersion", "\"\(version)\" is not a version") }
        guard CNIVersion.supported.contains(version) else {
            throw CNIError(code: CNIError.incompatibleVersion,
                           msg: "cniVersion \(version) is not supported (supported: \(CNIVersion.supported.joined(separator: ", ")))")
        }
        let disableCheck = try boolOrString(fields, "disableCheck")
        let disableGC = try boolOrString(fields, "disableGC")
        guard let items = try fields.array("plugins"), !items.isEmpty else { throw fields.invalid("plugins", "must list at least one plugin") }
        var plugins: [Plugin] = []
        for (index, item) in items.enumerated() {
            let plugin = try ConfigFields(item, path: "plugins[\(index)]")
            let type = try plugin.requiredString("type")
            guard !type.contains("/"), type != ".", type != ".." else { throw plugin.invalid("type", "\"\(type)\" is not a plugin name") }
            var capabilities: [String] = []
            if let declared = try plugin.object("capabilities") {
                for (key, value) in declared.object where value == .bool(true) { capabilities.append(key) }
            }
            plugins.append(Plugin(type: type, capabilities: capabilities, raw: plugin.object))
        }
        return NetworkConfigList(name: name, cniVersion: version, disableCheck: disableCheck, disableGC: disableGC,
                                 plugins: plugins, bytes: bytes, source: source)
    }

    /// libcni accepts `true`/`false` or the strings "true"/"false".
    static func boolOrString(_ fields: ConfigFields, _ key: String) throws(CNIError) -> Bool {
        if case .string(let text)? = fields.object[key] {
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw fields.invalid(key, "must be true or false, not \"\(text)\"")
            }
        }
        return try fields.bool(key)
    }

    /// The configuration files in `directory` in lexical order (libcni's choice order).
    public static func files(in directory: String) throws(PodNetworkError) -> [String] {
        let names: [String]
        do { names = try FileSystem.listDirectory(directory) } catch {
            throw .io(path: directory, reason: "\(error)")
        }
        return names.filter { name in extensions.contains { name.hasSuffix($0) } && !name.hasPrefix(".") }
            .sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            .map { directory + "/" + $0 }
            .filter { !FileSystem.isDirectory($0) }
    }

    /// Loads the lexically first configuration in `directory`, nil when there is none. A
    /// malformed first file is an error (not skipped): the operator meant that file to be used.
    public static func loadFirst(in directory: String) throws(PodNetworkError) -> NetworkConfigList? {
        guard let first = try files(in: directory).first else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readBytes(first) } catch {
            throw .io(path: first, reason: "\(error)")
        }
        return try parse(bytes, source: first)
    }
}
