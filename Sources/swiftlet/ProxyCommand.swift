import ArgumentParser
import Foundation
import Hummingbird
import KubeAPI
import Logging
import ServiceLifecycle
import ServiceProxy

/// `swiftlet proxy`: the service proxy on its own, fed from a directory of Service and
/// EndpointSlice manifests (the agent runs the same `Proxier` in-process from its API watch).
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Program Service virtual IPs into nftables from Service/EndpointSlice manifests.")

    @Option(name: .customLong("from-dir"), help: "Directory of Service/EndpointSlice YAML or JSON files (watched).")
    var fromDir: String

    @Option(name: .customLong("nodeport-addresses"),
            help: "Comma-separated CIDRs whose local addresses accept NodePort traffic (default: all but loopback).")
    var nodePortAddresses: String?

    @Option(name: .customLong("hostname-override"), help: "This node's name (endpoints with this nodeName are local).")
    var hostnameOverride: String?

    @Option(name: .customLong("metrics-bind-address"), help: "Where to serve /metrics (host:port; empty to disable).")
    var metricsBindAddress = "127.0.0.1:10249"

    @Option(name: .customLong("cluster-cidr"), help: "Comma-separated pod CIDRs; ClusterIP traffic from outside is masqueraded.")
    var clusterCIDR: String?

    @Flag(name: .customLong("masquerade-all"), help: "Masquerade all traffic to ClusterIPs.")
    var masqueradeAll = false

    @Option(name: .customLong("min-sync-period"), help: "Minimum time between syncs (e.g. 1s, 250ms).")
    var minSyncPeriod = "1s"

    @Option(name: .customLong("sync-period"), help: "Maximum time between syncs (node address refresh).")
    var syncPeriod = "30s"

    @Option(name: .customLong("v"), help: "Log verbosity (0 info, 2+ debug).")
    var verbosity = 0

    func run() async throws {
        let level: Logger.Level = verbosity >= 2 ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swiftlet.proxy")
        var config = ProxyConfig(nodeName: (hostnameOverride ?? ProcessInfo.processInfo.hostName).lowercased())
        config.nodePortAddresses = try Self.prefixes(nodePortAddresses, flag: "--nodeport-addresses")
        config.clusterCIDRs = try Self.prefixes(clusterCIDR, flag: "--cluster-cidr")
        config.masqueradeAll = masqueradeAll
        let minSync = try Self.duration(minSyncPeriod, flag: "--min-sync-period")
        let maxSync = try Self.duration(syncPeriod, flag: "--sync-period")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fromDir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--from-dir \(fromDir): not a directory")
        }

        let backend = try NetlinkProxyBackend()
        let proxier = Proxier(config: config, backend: backend, logger: logger, minSyncPeriod: minSync, syncPeriod: maxSync)
        let watcher = DirectoryFeed(directory: ManifestDirectory(path: fromDir), proxier: proxier, logger: logger)
        await watcher.load()
        logger.info("proxy for node \(config.nodeName): watching \(fromDir), tables \(config.tableName) (ip, ip6)")

        var services: [any ServiceLifecycle.Service] = [ProxierService(proxier: proxier), watcher]
        if !metricsBindAddress.isEmpty {
            let (host, port) = try Self.hostPort(metricsBindAddress)
            let router = Router()
            router.get("metrics") { _, _ -> Response in
                let text = await proxier.metrics.render()
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
            router.get("healthz") { _, _ in "ok" }
            var appLogger = Logger(label: "swiftlet.proxy.http")
            appLogger.logLevel = .warning
            services.append(Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: appLogger))
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    static func prefixes(_ text: String?, flag: String) throws -> [IPPrefix] {
        guard let text, !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { part in
            guard let p = IPPrefix(String(part).trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(flag): invalid CIDR \"\(part)\"")
            }
            return p
        }
    }

    /// Go-style durations as kube-proxy takes them: `1s`, `250ms`, `1m`, `0`.
    static func duration(_ text: String, flag: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        if text == "0" { return .zero }
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0 { return .milliseconds(Int64(value * scale * 1000)) }
        }
        throw ValidationError("\(flag): invalid duration \"\(text)\" (e.g. 1s, 250ms)")
    }

    static func hostPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536 else {
            throw ValidationError("--metrics-bind-address: expected host:port, got \"\(text)\"")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// Runs the proxier's sync loop as a lifecycle service.
struct ProxierService: ServiceLifecycle.Service {
    let proxier: Proxier

    func run() async throws {
        await cancelWhenGracefulShutdown { await proxier.run() }
    }
}

/// Polls the manifest directory a few times a second and hands every change to the proxier
/// as a snapshot; malformed documents are logged once (naming file and field) and skipped.
struct DirectoryFeed: ServiceLifecycle.Service {
    let directory: ManifestDirectory
    let proxier: Proxier
    let logger: Logger
    let reported = LoggedErrors()

    /// Reads the directory and hands it over; returns the fingerprint it read.
    @discardableResult
    func load() async -> [String: String] {
        let fingerprint = directory.fingerprint()
        let snapshot = directory.read()
        let fresh = await reported.replace(snapshot.errors.map(\.description))
        for error in fresh { logger.error("skipping: \(error)") }
        await proxier.replaceAll(services: snapshot.services, slices: snapshot.slices)
        return fingerprint
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            // Re-read once: anything written between the first load and now is picked up.
            var last = await load()
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                if directory.fingerprint() != last { last = await load() }
            }
        }
    }
}

/// Errors already logged, so a broken file is reported when it changes, not every poll.
actor LoggedErrors {
    var seen: Set<String> = []

    func replace(_ errors: [String]) -> [String] {
        let fresh = errors.filter { !seen.contains($0) }
        seen = Set(errors)
        return fresh
    }
}
