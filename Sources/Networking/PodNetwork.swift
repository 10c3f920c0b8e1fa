import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Logging
import Runtime

/// Settings of pod networking, from the agent's flags.
public struct PodNetworkOptions: Sendable {
    /// `--cni-conf-dir`.
    public var confDir = "/etc/cni/net.d"
    /// `--cni-bin-dir`, split on ':'.
    public var binDirs = ["/opt/cni/bin"]
    /// libcni's cache directory (results under `<cacheDir>/results`).
    public var cacheDir = "/var/lib/cni"
    /// `--pod-cidr`, used for the default network when the conf dir is empty.
    public var podCIDR = "10.88.0.0/16"
    /// host-local's state directory in the default network; nil keeps the plugin's default
    /// (/var/lib/cni/networks).
    public var ipamDataDir: String?
    /// The pod's interface name.
    public var interfaceName = "eth0"
    /// Write `DefaultNetwork` when the conf dir has no configuration.
    public var writeDefaultConfig = true
    /// Apply `HostNetworkSetup` in `prepare()`.
    public var configureHost = true
    /// Also look for plugins next to our own executable, after `binDirs`, so a node works
    /// before anything is installed into /opt/cni/bin.
    public var searchOwnDirectory = true
    public var executor: any PluginExecutor = SpawnExecutor()

    public init() {}

    /// From the agent's flags: `--cni-conf-dir`, `--cni-bin-dir` (colon-separated), `--pod-cidr`.
    public init(confDir: String, binDir: String, podCIDR: String) {
        self.confDir = confDir
        self.binDirs = binDir.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        self.podCIDR = podCIDR
    }
}

/// A sandbox's network as the runtime reports it: `status.podIP(s)` come from `ips`.
public struct PodNetworkAttachment: Sendable, Equatable {
    public var network: String
    public var interfaceName: String
    /// The pod's addresses, IPv4 first.
    public var ips: [IPAddress]
    public var interfaces: [CNIResult.Interface]
    public var result: CNIResult

    /// `status.podIPs` strings, IPv4 first.
    public var podIPs: [String] { ips.map(\.description) }

    init(network: String, interfaceName: String, result: CNIResult) {
        self.network = network
        self.interfaceName = interfaceName
        self.result = result
        self.interfaces = result.interfaces
        // The pod's own addresses: those on a sandbox interface other than lo.
        let own = result.ips.filter { ip in
            guard let index = ip.interface, index >= 0, index < result.interfaces.count else { return true }
            let interface = result.interfaces[index]
            return interface.sandbox != nil && interface.name != "lo"
        }
        let addresses = own.map(\.address.address).filter { !$0.isUnspecified }
        self.ips = addresses.filter(\.isV4) + addresses.filter { !$0.isV4 }
    }
}

/// Pod networking through CNI, the API the runtime calls (it conforms to
/// `Runtime.PodNetwork`, see RuntimeAdapter.swift; the richer methods here return the whole
/// CNI result). Each call loads the current
/// configuration (the lexically first file in the conf dir), except teardown, which uses the
/// configuration recorded at ADD time. Calls block on plugin processes, so they run on a
/// thread of their own and never hold up the concurrency pool. The runtime must not run two
/// calls for the same sandbox at once (the spec's rule; the pod worker serializes them);
/// different sandboxes may proceed in parallel.
public final class CNIPodNetwork: Sendable {
    public let options: PodNetworkOptions
    let runtime: CNIRuntime
    let logger: Logger

    public init(options: PodNetworkOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        var directories = options.binDirs
        if options.searchOwnDirectory, let own = CNIPodNetwork.ownDirectory(), !directories.contains(own) {
            directories.append(own)
        }
        runtime = CNIRuntime(locator: PluginLocator(directories: directories), cacheDir: options.cacheDir, executor: options.executor)
    }

    /// The search path actually used (`binDirs` plus, optionally, our own directory).
    public var pluginSearchPath: [String] { runtime.locator.directories }

    /// Agent start-up: host settings, the default configuration when none exists, then the
    /// configuration is loaded and returned (so a malformed file is reported at start).
    @discardableResult
    public func prepare() async throws(PodNetworkError) -> NetworkConfigList {
        try await blocking { () throws(PodNetworkError) -> NetworkConfigList in
            if self.options.configureHost { try HostNetworkSetup.apply(podCIDR: self.options.podCIDR, logger: self.logger) }
            if self.options.writeDefaultConfig {
                try DefaultNetwork.writeIfMissing(confDir: self.options.confDir, podCIDR: self.options.podCIDR,
                                                  ipamDataDir: self.options.ipamDataDir, logger: self.logger)
            }
            return try self.loadConfiguration()
        }
    }

    /// The configuration in use now.
    public func loadConfiguration() throws(PodNetworkError) -> NetworkConfigList {
        guard let list = try NetworkConfigList.loadFirst(in: options.confDir) else {
            throw .noConfiguration(directory: options.confDir)
        }
        return list
    }

    /// ADD: connects the sandbox and returns its addresses. On failure every plugin gets its
    /// DEL before the error is thrown (spec: an ADD is always followed by a DEL), so a failed
    /// sandbox holds no address, veth or rule.
    public func attach(_ sandbox: PodNetworkRequest) async throws(PodNetworkError) -> PodNetworkAttachment {
        try await blocking { () throws(PodNetworkError) -> PodNetworkAttachment in
            let list = try self.loadConfiguration()
            let rt = self.runtimeConf(sandbox)
            do throws(PodNetworkError) {
                let result = try self.runtime.add(list, rt)
                let attachment = PodNetworkAttachment(network: list.name, interfaceName: rt.ifname, result: result)
                self.logger.debug("pod network up", metadata: ["sandbox": "\(sandbox.sandboxID)", "ips": "\(attachment.podIPs)"])
                return attachment
            } catch {
                do {
                    try self.runtime.del(list, rt)
                } catch let cleanup {
                    self.logger.warning("DEL after failed ADD failed; the cache record is kept for a later teardown or GC",
                                        metadata: ["sandbox": "\(sandbox.sandboxID)", "error": "\(cleanup)"])
                }
                throw error
            }
        }
    }

    /// DEL: disconnects the sandbox, with the configuration and arguments recorded at ADD
    /// (so it works after a restart and after the conf dir changed). `netnsPath` nil or a
    /// vanished namespace is fine: plugins then release what they hold outside it.
    public func detach(sandboxID: String, netnsPath: String?) async throws(PodNetworkError) {
        try await blocking { () throws(PodNetworkError) in
            let ifname = self.options.interfaceName
            let records = self.runtime.cache.all().filter { $0.containerID == sandboxID && $0.ifname == ifname }
            if records.isEmpty {
                // No record: DEL with the current configuration anyway (DEL is idempotent).
                guard let list = try? self.loadConfiguration() else { return }
                let netns = netnsPath.flatMap { NetworkNamespace.exists($0) ? $0 : nil } ?? ""
                try self.runtime.del(list, RuntimeConf(containerID: sandboxID, netns: netns, ifname: ifname))
                return
            }
            for record in records {
                let list = try self.listForRecord(record)
                let netns = netnsPath ?? record.netns
                let rt = RuntimeConf(containerID: sandboxID, netns: NetworkNamespace.exists(netns) ? netns : "", ifname: ifname,
                                     args: record.cniArgs, capabilityArgs: record.capabilityArgs)
                try self.runtime.del(list, rt)
            }
        }
    }

    /// CHECK on re-adoption: is the sandbox still wired as its ADD left it? Returns the
    /// attachment (for the pod's IPs) when it is.
    public func verify(sandboxID: String, netnsPath: String) async throws(PodNetworkError) -> PodNetworkAttachment {
        try await blocking { () throws(PodNetworkError) -> PodNetworkAttachment in
            let ifname = self.options.interfaceName
            guard let record = self.runtime.cache.all().first(where: { $0.containerID == sandboxID && $0.ifname == ifname }),
                  let result = record.result else {
                throw .unknownAttachment(network: (try? self.loadConfiguration().name) ?? "?", containerID: sandboxID, ifname: ifname)
            }
            let list = try self.listForRecord(record)
            try self.runtime.check(list, RuntimeConf(containerID: sandboxID, netns: netnsPath, ifname: ifname,
                                                     args: record.cniArgs, capabilityArgs: record.capabilityArgs))
            return PodNetworkAttachment(network: list.name, interfaceName: ifname, result: result)
        }
    }

    /// The attachment recorded for a sandbox, without running anything (re-adoption after
    /// an agent restart: the pod's IPs are known at once).
    public func cachedAttachment(sandboxID: String) -> PodNetworkAttachment? {
        let ifname = options.interfaceName
        guard let record = runtime.cache.all().first(where: { $0.containerID == sandboxID && $0.ifname == ifname }),
              let result = record.result else { return nil }
        return PodNetworkAttachment(network: record.networkName, interfaceName: ifname, result: result)
    }

    /// STATUS: may pods be accepted? Throws what is wrong (no configuration, malformed file,
    /// missing plugin, a plugin's STATUS error such as an exhausted range).
    public func networkStatus() async throws(PodNetworkError) {
        try await blocking { () throws(PodNetworkError) in
            try self.runtime.status(try self.loadConfiguration())
        }
    }

    /// GC at start-up: every sandbox not in `validSandboxIDs` loses its attachment (cached
    /// records are DELeted), and plugins drop state of attachments we never recorded.
    /// Returns the failures (also logged); one stale attachment does not stop the others.
    @discardableResult
    public func garbageCollect(validSandboxIDs: [String]) async throws(PodNetworkError) -> [PodNetworkError] {
        try await blocking { () throws(PodNetworkError) -> [PodNetworkError] in
            let list = try self.loadConfiguration()
            let ifname = self.options.interfaceName
            var failures = self.runtime.gc(list, valid: validSandboxIDs.map { ($0, ifname) })
            // Records made under another configuration (the conf dir changed since): DEL them
            // with the configuration they were made with.
            let keep = Set(validSandboxIDs)
            for record in self.runtime.cache.all() where record.networkName != list.name && !keep.contains(record.containerID) {
                do throws(PodNetworkError) {
                    let recordList = try self.listForRecord(record)
                    try self.runtime.del(recordList, RuntimeConf(containerID: record.containerID, netns: record.netns, ifname: record.ifname,
                                                                 args: record.cniArgs, capabilityArgs: record.capabilityArgs))
                } catch { failures.append(error) }
            }
            for failure in failures { self.logger.warning("CNI garbage collection: \(failure)") }
            return failures
        }
    }

    // MARK: helpers

    func runtimeConf(_ sandbox: PodNetworkRequest) -> RuntimeConf {
        let args: [(String, String)] = [
            ("IgnoreUnknown", "1"),
            ("K8S_POD_NAMESPACE", sandbox.namespace),
            ("K8S_POD_NAME", sandbox.name),
            ("K8S_POD_INFRA_CONTAINER_ID", sandbox.sandboxID),
            ("K8S_POD_UID", sandbox.uid),
        ]
        var capabilities = JSONObject()
        let mappings = sandbox.portMappings.filter { $0.hostPort > 0 }
        if !mappings.isEmpty { capabilities["portMappings"] = .array(mappings.map(CNIPodNetwork.portMappingJSON)) }
        return RuntimeConf(containerID: sandbox.sandboxID, netns: sandbox.netnsPath, ifname: options.interfaceName,
                           args: args, capabilityArgs: capabilities)
    }

    /// The configuration an attachment was made with (from its record), or today's when the
    /// record holds none we can read.
    func listForRecord(_ record: CachedAttachment) throws(PodNetworkError) -> NetworkConfigList {
        if !record.config.isEmpty, let list = try? NetworkConfigList.parse(record.config, source: runtime.cache.directory) {
            return list
        }
        return try loadConfiguration()
    }

    /// One `portMappings` entry as kubelet sends it: protocol in lower case, hostIP only when set.
    static func portMappingJSON(_ mapping: PortMapping) -> JSON {
        var object = JSONObject([("hostPort", .int(Int64(mapping.hostPort))), ("containerPort", .int(Int64(mapping.containerPort))),
                                 ("protocol", .string(mapping.protocol.isEmpty ? "tcp" : mapping.protocol.lowercased()))])
        if !mapping.hostIP.isEmpty { object["hostIP"] = .string(mapping.hostIP) }
        return .object(object)
    }

    static func ownDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}
