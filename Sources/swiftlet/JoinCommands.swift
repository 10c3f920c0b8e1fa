import APIServer
import ArgumentParser
import Foundation
import KubeAPI
import KubeClient

/// `swiftlet join`: a second host gets its node credentials from a bootstrap token (kubeadm
/// join's discovery and TLS bootstrap, reduced): `swiftlet agent --kubeconfig OUT` then runs.
struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Get a node client certificate from an API server with a bootstrap token and write a kubeconfig for the agent.")

    @Option(help: "The API server, https://HOST:PORT.")
    var server: String

    @Option(help: "A bootstrap token from `swiftlet apiserver create-join-token` (abcdef.0123456789abcdef).")
    var token: String

    @Option(name: .customLong("discovery-token-ca-cert-hash"), help: "sha256:<hex> of the CA's public key: the only CA trusted.")
    var discoveryTokenCACertHash: String

    @Option(help: "This node's name (the certificate is for system:node:<name>).")
    var nodeName: String = MachineHostname.name

    @Option(help: "Where to write the node's kubeconfig.")
    var kubeconfig: String

    @Option(help: "How long to wait for the certificate, in seconds.")
    var timeout: Double = 120

    func run() async throws {
        let join = NodeJoin(server: server, token: token, caCertHash: discoveryTokenCACertHash, nodeName: nodeName, output: kubeconfig,
                            timeoutSeconds: timeout)
        try await join.run()
        print("wrote \(kubeconfig) for system:node:\(nodeName) (server \(server)); start the agent with: swiftlet agent --kubeconfig \(kubeconfig) --node-name \(nodeName)")
    }
}

/// The host name as kubelet defaults its node name (lowercase).
enum MachineHostname {
    static var name: String { ProcessInfo.processInfo.hostName.split(separator: ".").first.map { $0.lowercased() } ?? "localhost" }
}

extension APIServerCommand {
    /// `swiftlet apiserver create-join-token`: a bootstrap token Secret, made through the running
    /// server with the admin kubeconfig of --data-dir, and the CA pin to join with.
    struct CreateJoinToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-join-token",
            abstract: "Create a bootstrap token (kube-system/bootstrap-token-<id>) and print it with the CA hash for `swiftlet join`.")

        @Option(name: .customLong("data-dir"), help: "The API server's data directory (admin kubeconfig and CA).")
        var dataDir: String

        @Option(help: "How long the token is valid (e.g. 30m, 24h); 0 never expires.")
        var ttl = "24h"

        @Option(name: .customLong("description"), help: "A note stored with the token.")
        var tokenDescription = "made by swiftlet apiserver create-join-token"

        func run() async throws {
            let dir = DataDirectory(dataDir)
            let seconds = try ttl == "0" ? 0 : HostFacts.duration(ttl)
            let caPEM: String
            do { caPEM = try String(contentsOfFile: dir.caCertificatePath, encoding: .utf8) } catch {
                throw JoinError.invalidFlag("--data-dir \(dataDir)", "cannot read \(dir.caCertificatePath): \(error.localizedDescription)")
            }
            let pin = try CertificateAuthority.publicKeyPin(certificatePEM: caPEM)
            let admin = try KubeConfig.load(dir.adminKubeconfigPath)
            let client = try KubeClient(config: admin)
            let token = BootstrapToken.generate()
            let data = token.secretData(expiration: seconds > 0 ? Date().addingTimeInterval(seconds) : nil, description: tokenDescription)
            var encoded: [String: JSONValue] = [:]
            for (k, v) in data { encoded[k] = .string(Data(v.utf8).base64EncodedString()) }
            do {
                _ = try await client.create("/api/v1/namespaces/\(BootstrapToken.namespace)/secrets", .object([
                    "apiVersion": .string("v1"), "kind": .string("Secret"),
                    "metadata": .object(["name": .string(token.secretName), "namespace": .string(BootstrapToken.namespace)]),
                    "type": .string(BootstrapToken.secretType), "data": .object(encoded),
                ]))
                await client.shutdown()
            } catch {
                await client.shutdown()
                throw JoinError.failed("creating the token Secret through \(admin.server): \(error)")
            }
            print("""
                token: \(token.text)
                discovery-token-ca-cert-hash: \(pin)
                join: swiftlet join --server \(admin.server) --token \(token.text) --discovery-token-ca-cert-hash \(pin) --node-name NAME --kubeconfig FILE
                """)
        }
    }
}
