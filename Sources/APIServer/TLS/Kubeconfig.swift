import Foundation

/// Writes kubeconfig files (YAML, the shape `kubectl config view` prints) for the admin and for
/// nodes, so that `kubectl --kubeconfig FILE` and the agent need no other flag.
public enum Kubeconfig {
    public enum Credential: Sendable {
        case token(String)
        case clientCertificate(certPEM: String, keyPEM: String)
    }

    public static func render(server: String, caPEM: String, user: String, credential: Credential, cluster: String = "swiftlet") -> String {
        let ca = Data(caPEM.utf8).base64EncodedString()
        var userBlock: String
        switch credential {
        case .token(let t):
            userBlock = "    token: \(t)\n"
        case .clientCertificate(let c, let k):
            userBlock = "    client-certificate-data: \(Data(c.utf8).base64EncodedString())\n"
            userBlock += "    client-key-data: \(Data(k.utf8).base64EncodedString())\n"
        }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(cluster)
              cluster:
                server: \(server)
                certificate-authority-data: \(ca)
            users:
            - name: \(user)
              user:
            \(userBlock)contexts:
            - name: \(user)@\(cluster)
              context:
                cluster: \(cluster)
                user: \(user)
            current-context: \(user)@\(cluster)
            preferences: {}

            """
    }

    /// The server URL clients should use for a bind address (a wildcard bind is reached on loopback).
    public static func serverURL(bindAddress: String, port: Int) -> String {
        var host = bindAddress
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        if host.contains(":") { host = "[\(host)]" }
        return "https://\(host):\(port)"
    }
}
