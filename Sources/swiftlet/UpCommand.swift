import AgentSupport
import APIServer
import ArgumentParser
import Foundation
import Kubelet
import Logging

/// `swiftlet up`: one host, one command: the API server and this node's agent (kubelet, proxy,
/// stats) in one process, every piece of state under `--data-dir`, the admin kubeconfig
/// written there and printed, ready for kubectl.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Run the API server and this node's agent together.")

    @Option(help: "Where everything lives: the API server's data, the image store, volumes.")
    var dataDir = "/var/lib/swiftlet"

    @OptionGroup var node: NodeOptions

    @Option(help: "Address the API server listens on.")
    var bindAddress = "0.0.0.0"

    @Option(help: "The API server's port.")
    var securePort = 6443

    @Option(help: "Service ClusterIP range.")
    var serviceClusterIpRange = "10.96.0.0/12"

    @Option(help: "Port of the authenticated kubelet API (HTTPS).")
    var port = 10250

    @Option(help: "Directory of static pod manifests (YAML or JSON), watched for changes; each gets a mirror pod.")
    var podManifestPath = ""

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    func run() async throws {
        LoggingSystem.bootstrap(JournalLogHandler.factory(level: Logger.Level(rawValue: logLevel) ?? .info))
        let logger = Logger(label: "swiftlet.up")
        var node = self.node
        node.rootDir = dataDir
        node.keepStateUnder(dataDir, logger: logger)
        let nodeName = node.resolvedNodeName
        let nodeIP = HostFacts.nodeIP() ?? "127.0.0.1"
        var config = APIServerConfiguration(dataDir: dataDir + "/apiserver")
        config.bindAddress = bindAddress
        config.securePort = securePort
        config.serviceClusterIPRange = serviceClusterIpRange
        config.extraSANs = [nodeIP, nodeName, "127.0.0.1", "localhost"]
        let server = try APIServer(configuration: config, logger: Logger(label: "swiftlet.apiserver"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            let endpoint = try await server.waitUntilReady()
            // The node's own credentials sit deeper than the admin kubeconfig and outside its folder.
            let nodeKubeconfig = dataDir + "/agent/pki/node/kubeconfig"
            try FileManager.default.createDirectory(atPath: dataDir + "/agent/pki/node", withIntermediateDirectories: true)
            let serverURL = "https://\(nodeIP == "127.0.0.1" || bindAddress == "127.0.0.1" ? "127.0.0.1" : nodeIP):\(endpoint.port)"
            try DataDirectory(config.dataDir).issueNodeKubeconfig(nodeName: nodeName, server: serverURL, out: nodeKubeconfig)
            FileHandle.standardOutput.write(Data("""
                swiftlet is up: API server \(endpoint.url), node \(nodeName) (\(nodeIP))
                kubeconfig: \(endpoint.adminKubeconfigPath)
                  kubectl --kubeconfig \(endpoint.adminKubeconfigPath) get nodes

                """.utf8))
            let kubeletConfig = KubeletConfig(nodeName: nodeName, rootDir: node.rootDir, podManifestPath: podManifestPath,
                                              podLogDir: node.podLogDir, readOnlyPort: 0, podPidsLimit: node.podMaxPids,
                                              suffixStaticPodNames: true)
            var agent = NodeAgent(node: node, kubeletConfig: kubeletConfig, logger: logger)
            agent.kubeconfigPath = nodeKubeconfig
            agent.kubeletPort = port
            agent.nodeIP = nodeIP
            group.addTask { try await agent.run() }
        }
    }
}
