import Foundation
import Glibc
import Testing

/// The join flow with separate processes and the real kubectl: `swiftlet apiserver
/// create-join-token`, then `swiftlet join` fetches the CA anonymously from cluster-info,
/// checks the pin, and trades the bootstrap token for a node client certificate through a
/// CertificateSigningRequest; the kubeconfig it writes works for kubectl and for the agent.
/// A wrong pin, an unknown or expired token are refused with nothing written, and the
/// bootstrap identity can do nothing but ask for its certificate.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct JoinSlowRootTests {
    @Test func joinWithABootstrapToken() async throws {
        let h = try AgentHarness()
        var apiserver: Process?
        do {
            let (nodeIP, third, server, process) = try await h.startAPIServerOnNodeAddress()
            apiserver = process
            let swiftlet = AgentHarness.buildDir + "/swiftlet"
            /// Runs in the node's namespace: (exit status 0?, output).
            func inNode(_ args: [String]) -> (ok: Bool, output: String) {
                do { return (true, try h.run(h.inNetns[0], [h.inNetns[1]] + args)) } catch { return (false, "\(error)") }
            }

            let created = inNode([swiftlet, "apiserver", "create-join-token", "--data-dir", h.apiserverDataDir, "--ttl", "1h"])
            #expect(created.ok, "\(created.output)")
            func value(_ key: String) -> String {
                created.output.split(separator: "\n").first { $0.hasPrefix(key + ": ") }.map { String($0.dropFirst(key.count + 2)) } ?? ""
            }
            let token = value("token"), pin = value("discovery-token-ca-cert-hash")
            #expect(token.range(of: #"^[a-z0-9]{6}\.[a-z0-9]{16}$"#, options: .regularExpression) != nil, "\(created.output)")
            #expect(pin.range(of: #"^sha256:[0-9a-f]{64}$"#, options: .regularExpression) != nil)
            let id = String(token.prefix(6))
            let secretType = h.kubectl(["get", "secret", "-n", "kube-system", "bootstrap-token-\(id)", "-o", "jsonpath={.type}"])
            #expect(secretType == "bootstrap.kubernetes.io/token")
            let out = h.base + "/joined/n1.kubeconfig"
            func join(token: String, pin: String) -> (ok: Bool, output: String) {
                inNode([swiftlet, "join", "--server", server, "--token", token, "--discovery-token-ca-cert-hash", pin, "--node-name", "n1",
                        "--kubeconfig", out, "--timeout", "30"])
            }

            // A CA that is not the pinned one is refused before the token is ever sent.
            let wrongPin = join(token: token, pin: "sha256:" + String(repeating: "0", count: 64))
            #expect(!wrongPin.ok && wrongPin.output.contains("refusing to join"), "\(wrongPin.output)")
            #expect(!FileManager.default.fileExists(atPath: out))
            // Unknown and expired tokens: 401, nothing written.
            let unknown = join(token: "zzzzzz.zzzzzzzzzzzzzzzz", pin: pin)
            #expect(!unknown.ok && unknown.output.contains("401"), "\(unknown.output)")
            try """
            apiVersion: v1
            kind: Secret
            metadata: {name: bootstrap-token-expird, namespace: kube-system}
            type: bootstrap.kubernetes.io/token
            stringData: {token-id: expird, token-secret: 0123456789abcdef, expiration: "2020-01-01T00:00:00Z", usage-bootstrap-authentication: "true"}
            """.write(toFile: h.base + "/expired.yaml", atomically: true, encoding: .utf8)
            #expect(h.kubectl(["apply", "-f", h.base + "/expired.yaml"]) != nil)
            let expired = join(token: "expird.0123456789abcdef", pin: pin)
            #expect(!expired.ok && expired.output.contains("401"), "\(expired.output)")
            #expect(!FileManager.default.fileExists(atPath: out))
            // The token cleaner removes the expired token's Secret.
            #expect(await h.eventually(40) { h.kubectl(["get", "secret", "-n", "kube-system", "bootstrap-token-expird"]) == nil })

            // The bootstrap identity may ask for a certificate and nothing else.
            _ = FileManager.default.createFile(atPath: h.base + "/empty.kubeconfig", contents: nil)
            let asBootstrap = ["/usr/bin/kubectl", "--kubeconfig", h.base + "/empty.kubeconfig", "--server", server,
                               "--certificate-authority", h.apiserverDataDir + "/pki/ca.crt", "--token", token, "--request-timeout=10s"]
            let pods = inNode(asBootstrap + ["get", "pods"])
            #expect(!pods.ok && pods.output.contains("Forbidden") && pods.output.contains("system:bootstrap:\(id)"), "\(pods.output)")
            #expect(!inNode(asBootstrap + ["get", "secrets", "-n", "kube-system"]).ok)

            // The real join: a kubeconfig for system:node:n1 that kubectl and the agent use.
            let joined = join(token: token, pin: pin)
            #expect(joined.ok, "\(joined.output)")
            var info = stat()
            #expect(stat(out, &info) == 0 && info.st_mode & 0o777 == 0o600)
            let asNode = ["/usr/bin/kubectl", "--kubeconfig", out, "--request-timeout=10s"]
            #expect(inNode(asNode + ["get", "nodes"]).ok)
            let denied = inNode(asNode + ["get", "secrets", "-n", "kube-system"])
            #expect(!denied.ok && denied.output.contains("User \"system:node:n1\""), "\(denied.output)")
            let csr = h.kubectl(["get", "csr", "-o", "jsonpath={.items[*].status.conditions[*].type} {.items[*].spec.username}"]) ?? ""
            #expect(csr == "Approved system:bootstrap:\(id)", "\(csr)")

            // startJoinedAgent takes <base>/n1.kubeconfig when present: the joined one.
            try FileManager.default.copyItem(atPath: out, toPath: h.base + "/n1.kubeconfig")
            try h.startJoinedAgent(name: "n1", nodeIP: nodeIP, server: server, podCIDR: "10.93.\(third).0/24")
            #expect(await h.eventually(60) { h.nodeReady("n1") == "True" }, "agent log:\n\(h.tail(h.agentLog))")
        } catch {
            Issue.record(error)
        }
        h.stop(apiserver)
        await h.tearDown()
    }
}
