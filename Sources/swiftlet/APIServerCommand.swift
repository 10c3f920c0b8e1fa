import APIServer
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `swiftlet apiserver`: the bundled Kubernetes API server (flags named as kube-apiserver's).
struct APIServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Run the bundled Kubernetes API server (REST + watch, SQLite storage, scheduler and controllers).",
        subcommands: [Serve.self, IssueNodeKubeconfig.self, CreateJoinToken.self],
        defaultSubcommand: Serve.self)

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve the API over HTTPS until SIGTERM/SIGINT (the default verb).")

        @Option(name: .customLong("data-dir"), help: "Directory for the database, certificates and the admin kubeconfig.")
        var dataDir: String

        @Option(name: .customLong("bind-address"), help: "Address to listen on.")
        var bindAddress = "127.0.0.1"

        @Option(name: .customLong("secure-port"), help: "HTTPS port (0 picks a free one).")
        var securePort = 6443

        @Option(name: .customLong("service-cluster-ip-range"), help: "IPv4 CIDR Service ClusterIPs are allocated from.")
        var serviceClusterIPRange = "10.96.0.0/12"

        @Option(name: .customLong("token-auth-file"), help: "Static bearer tokens: token,user,uid,\"group1,group2\" per line.")
        var tokenAuthFile: String?

        @Option(name: .customLong("tls-san"), help: "Extra name or address for the serving certificate (repeatable).")
        var tlsSANs: [String] = []

        @Option(name: .customLong("node-monitor-grace-period"),
                help: "How long a node may go without a heartbeat (status or Lease) before it is marked Ready=Unknown (kube-controller-manager's flag).")
        var nodeMonitorGracePeriod = "50s"

        @Option(name: .customLong("node-monitor-period"), help: "How often node heartbeats are checked.")
        var nodeMonitorPeriod = "5s"

        @Flag(name: .customLong("verbose"), help: "Log at debug level.")
        var verbose = false

        func run() async throws {
            var logger = Logger(label: "swiftlet.apiserver")
            logger.logLevel = verbose ? .debug : .info
            var config = APIServerConfiguration(dataDir: dataDir)
            config.bindAddress = bindAddress
            config.securePort = securePort
            config.serviceClusterIPRange = serviceClusterIPRange
            config.tokenAuthFile = tokenAuthFile
            config.extraSANs = tlsSANs
            config.controllers.nodeMonitorGracePeriod = .milliseconds(Int64(try HostFacts.duration(nodeMonitorGracePeriod) * 1000))
            config.controllers.nodeMonitorPeriod = .milliseconds(Int64(try HostFacts.duration(nodeMonitorPeriod) * 1000))
            let server = try APIServer(configuration: config, logger: logger)
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            try await group.run()
        }
    }

    struct IssueNodeKubeconfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-node-kubeconfig",
            abstract: "Write a kubeconfig for a node agent (client certificate CN=system:node:<name>, O=system:nodes) signed by the CA in --data-dir.")

        @Option(name: .customLong("data-dir"), help: "The API server's data directory (holds the CA).")
        var dataDir: String

        @Option(name: .customLong("node-name"), help: "The node's name.")
        var nodeName: String

        @Option(name: .customLong("out"), help: "Where to write the kubeconfig.")
        var out: String

        @Option(name: .customLong("server"), help: "API server URL (default: the one in the admin kubeconfig).")
        var server: String?

        func run() async throws {
            let dir = DataDirectory(dataDir)
            let url = server ?? Self.serverFromAdminKubeconfig(dir.adminKubeconfigPath) ?? "https://127.0.0.1:6443"
            try dir.issueNodeKubeconfig(nodeName: nodeName, server: url, out: out)
            print("wrote \(out) for system:node:\(nodeName) (server \(url))")
        }

        static func serverFromAdminKubeconfig(_ path: String) -> String? {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.hasPrefix("server:") { return t.dropFirst("server:".count).trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }
    }
}
