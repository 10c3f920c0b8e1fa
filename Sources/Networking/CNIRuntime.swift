import CNI
import Glibc
import LinuxPrimitives

/// The per-attachment arguments of an invocation (libcni's RuntimeConf).
public struct RuntimeConf: Sendable {
    public var containerID: String
    public var netns: String
    public var ifname: String
    /// CNI_ARGS, in order.
    public var args: [(String, String)]
    /// Capability arguments (`portMappings`, ...), handed to plugins that declare them.
    public var capabilityArgs: JSONObject

    public init(containerID: String, netns: String, ifname: String, args: [(String, String)] = [], capabilityArgs: JSONObject = JSONObject()) {
        self.containerID = containerID
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.capabilityArgs = capabilityArgs
    }
}

/// The runtime half of the CNI protocol (what libcni does for containerd and CRI-O): runs a
/// configuration list's plugins for one attachment, keeps the result cache, and speaks every
/// verb of spec 1.1.0. Synchronous and blocking (it waits for plugin processes): call it
/// from a thread that may block (`PodNetwork` does).
public struct CNIRuntime: Sendable {
    public var locator: PluginLocator
    public var cache: ResultCache
    public var executor: any PluginExecutor
    /// Environment passed to every plugin besides the CNI_* variables (PATH in particular:
    /// the reference plugins look up iptables through it).
    public var baseEnvironment: [String]

    public init(locator: PluginLocator, cacheDir: String = "/var/lib/cni", executor: any PluginExecutor = SpawnExecutor(),
                baseEnvironment: [String] = CNIRuntime.inheritedEnvironment()) {
        self.locator = locator
        self.cache = ResultCache(cacheDir: cacheDir)
        self.executor = executor
        self.baseEnvironment = baseEnvironment
    }

    /// Our environment without any CNI_* variable (those are per invocation).
    public static func inheritedEnvironment() -> [String] {
        var out: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("CNI_") { out.append(text) }
            pointer += 1
        }
        if !out.contains(where: { $0.hasPrefix("PATH=") }) { out.append("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") }
        return out
    }

    // MARK: verbs

    /// ADD through the list in order, each plugin getting the previous one's result. The
    /// cache record is written before the first plugin runs (so a crash leaves a trace to DEL)
    /// and completed with the final result.
    public func add(_ list: NetworkConfigList, _ rt: RuntimeConf) throws(PodNetworkError) -> CNIResult {
        var record = CachedAttachment(containerID: rt.containerID, ifname: rt.ifname, networkName: list.name, netns: rt.netns,
                                      config: list.bytes, cniArgs: rt.args, capabilityArgs: rt.capabilityArgs, result: nil)
        try cache.write(record)
        var result: CNIResult? = nil
        for plugin in list.plugins {
            let output = try invoke(.add, plugin: plugin, list: list, rt: rt, prevResult: result)
            let document: JSON
            do { document = try JSON.parse(output) } catch {
                throw .invalidResult(type: plugin.type, network: list.name, reason: "not JSON (\(error))")
            }
            do { result = try CNIResult(json: document) } catch {
                throw .invalidResult(type: plugin.type, network: list.name, reason: error.msg)
            }
        }
        guard let result else { throw .invalidResult(type: list.plugins.last?.type ?? "?", network: list.name, reason: "no result") }
        record.result = result
        try cache.write(record)
        return result
    }

    /// DEL through the list in reverse order with the cached ADD result as prevResult. Every
    /// plugin is asked even if an earlier one fails (each cleans up what it can); the first
    /// failure is reported and the cache record kept, so the DEL can be retried.
    public func del(_ list: NetworkConfigList, _ rt: RuntimeConf) throws(PodNetworkError) {
        var prevResult: CNIResult? = nil
        if CNIVersion.atLeast(list.cniVersion, "0.4.0") {
            prevResult = (try? cache.read(network: list.name, containerID: rt.containerID, ifname: rt.ifname))?.result
        }
        var firstError: PodNetworkError? = nil
        for plugin in list.plugins.reversed() {
            do {
                _ = try invoke(.del, plugin: plugin, list: list, rt: rt, prevResult: prevResult)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        try cache.remove(network: list.name, containerID: rt.containerID, ifname: rt.ifname)
    }

    /// CHECK with the cached result (spec: only after a successful ADD, never when the list
    /// says `disableCheck`, and only from 0.4.0 on).
    public func check(_ list: NetworkConfigList, _ rt: RuntimeConf) throws(PodNetworkError) {
        guard CNIVersion.atLeast(list.cniVersion, "0.4.0"), !list.disableCheck else { return }
        guard let cached = try cache.read(network: list.name, containerID: rt.containerID, ifname: rt.ifname),
              let result = cached.result else {
            throw .unknownAttachment(network: list.name, containerID: rt.containerID, ifname: rt.ifname)
        }
        for plugin in list.plugins {
            _ = try invoke(.check, plugin: plugin, list: list, rt: rt, prevResult: result)
        }
    }

    /// STATUS (1.1.0 and later); before that only whether every plugin binary is present.
    public func status(_ list: NetworkConfigList) throws(PodNetworkError) {
        for plugin in list.plugins { _ = try locator.find(plugin.type) }
        guard CNIVersion.atLeast(list.cniVersion, "1.1.0") else { return }
        let rt = RuntimeConf(containerID: "", netns: "", ifname: "")
        for plugin in list.plugins {
            _ = try invoke(.status, plugin: plugin, list: list, rt: rt, prevResult: nil)
        }
    }

    /// Garbage collection as libcni does it: DEL every cached attachment of this network that
    /// is not in `valid`, then (1.1.0 and later, unless `disableGC`) the GC verb with
    /// `cni.dev/valid-attachments` so plugins drop leftovers we have no record of. Returns
    /// the failures; one bad attachment does not stop the rest.
    public func gc(_ list: NetworkConfigList, valid: [(containerID: String, ifname: String)]) -> [PodNetworkError] {
        var failures: [PodNetworkError] = []
        let keep = Set(valid.map { "\($0.containerID)\u{0}\($0.ifname)" })
        for record in cache.all(network: list.name) where !keep.contains("\(record.containerID)\u{0}\(record.ifname)") {
            let recordList = (try? NetworkConfigList.parse(record.config, source: cache.directory)) ?? list
            let rt = RuntimeConf(containerID: record.containerID, netns: record.netns, ifname: record.ifname,
                                 args: record.cniArgs, capabilityArgs: record.capabilityArgs)
            do { try del(recordList, rt) } catch { failures.append(error) }
        }
        if CNIVersion.atLeast(list.cniVersion, "1.1.0") && !list.disableGC {
            let attachments = JSON.array(valid.map { .object(JSONObject([("containerID", .string($0.containerID)), ("ifname", .string($0.ifname))])) })
            let rt = RuntimeConf(containerID: "", netns: "", ifname: "")
            for plugin in list.plugins {
                var raw = plugin.raw
                raw["cni.dev/valid-attachments"] = attachments
                // libcni also sends the spelling of an earlier draft; plugins may read either.
                raw["cni.dev/attachments"] = attachments
                let withAttachments = NetworkConfigList.Plugin(type: plugin.type, capabilities: plugin.capabilities, raw: raw)
                do { _ = try invoke(.gc, plugin: withAttachments, list: list, rt: rt, prevResult: nil) } catch { failures.append(error) }
            }
        }
        return failures
    }

    /// VERSION: the spec versions a plugin supports.
    public func supportedVersions(of type: String) throws(PodNetworkError) -> [String] {
        let path = try locator.find(type)
        let result: Subprocess.Result
        do {
            result = try executor.execute(path: path, environment: baseEnvironment + ["CNI_COMMAND=VERSION", "CNI_PATH=" + locator.joined],
                                          stdin: JSON.object(JSONObject([("cniVersion", .string(CNIVersion.current))])).serialized())
        } catch {
            throw .pluginCrashed(type: type, command: "VERSION", network: "", status: "\(error)", stderr: "")
        }
        guard result.status.succeeded, let document = try? JSON.parse(result.stdout), let versions = document["supportedVersions"]?.arrayValue else {
            throw .pluginCrashed(type: type, command: "VERSION", network: "", status: "\(result.status)",
                                 stderr: String(decoding: result.stderr, as: UTF8.self))
        }
        return versions.compactMap(\.stringValue)
    }

    // MARK: invocation

    enum Command: String { case add = "ADD", del = "DEL", check = "CHECK", status = "STATUS", gc = "GC" }

    /// The configuration one plugin sees (spec "Deriving execution configuration"): its own
    /// object plus the list's `name` and `cniVersion`, `prevResult`, and `runtimeConfig`
    /// holding the capability arguments it declared.
    static func pluginConfig(_ plugin: NetworkConfigList.Plugin, list: NetworkConfigList, rt: RuntimeConf, prevResult: CNIResult?) -> JSON {
        var raw = plugin.raw
        raw["name"] = .string(list.name)
        raw["cniVersion"] = .string(list.cniVersion)
        if let prevResult { raw["prevResult"] = prevResult.json(version: list.cniVersion) }
        var runtimeConfig = JSONObject()
        for capability in plugin.capabilities {
            if let value = rt.capabilityArgs[capability] { runtimeConfig[capability] = value }
        }
        if !runtimeConfig.isEmpty { raw["runtimeConfig"] = .object(runtimeConfig) }
        return .object(raw)
    }

    func invoke(_ command: Command, plugin: NetworkConfigList.Plugin, list: NetworkConfigList, rt: RuntimeConf,
                prevResult: CNIResult?) throws(PodNetworkError) -> [UInt8] {
        let path = try locator.find(plugin.type)
        let stdin = CNIRuntime.pluginConfig(plugin, list: list, rt: rt, prevResult: prevResult).serialized()
        var environment = baseEnvironment
        environment.append("CNI_COMMAND=" + command.rawValue)
        environment.append("CNI_CONTAINERID=" + rt.containerID)
        environment.append("CNI_NETNS=" + rt.netns)
        environment.append("CNI_IFNAME=" + rt.ifname)
        environment.append("CNI_ARGS=" + rt.args.map { "\($0.0)=\($0.1)" }.joined(separator: ";"))
        environment.append("CNI_PATH=" + locator.joined)
        let result: Subprocess.Result
        do {
            result = try executor.execute(path: path, environment: environment, stdin: stdin)
        } catch {
            throw .pluginCrashed(type: plugin.type, command: command.rawValue, network: list.name, status: "\(error)", stderr: "")
        }
        if result.status.succeeded { return result.stdout }
        if let document = try? JSON.parse(result.stdout), let failure = CNIError(json: document) {
            throw .pluginFailed(type: plugin.type, command: command.rawValue, network: list.name, error: failure)
        }
        var stderr = String(decoding: result.stderr, as: UTF8.self)
        while stderr.last?.isNewline == true { stderr.removeLast() }
        throw .pluginCrashed(type: plugin.type, command: command.rawValue, network: list.name, status: "\(result.status)", stderr: stderr)
    }
}
