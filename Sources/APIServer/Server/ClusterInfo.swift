import Foundation

/// kubeadm's `kube-public/cluster-info` ConfigMap: a kubeconfig with the server address and
/// the CA and no credentials, readable without authentication. `swiftlet join` fetches it over
/// unverified TLS and trusts the CA only after checking its public key against the pin the
/// administrator gave (`--discovery-token-ca-cert-hash`).
enum ClusterInfo {
    static let namespace = "kube-public"
    static let name = "cluster-info"

    /// The one request anonymous clients may make.
    static func isAnonymousRead(_ req: HTTPRequest) -> Bool {
        (req.method == .GET || req.method == .HEAD) && req.path == "/api/v1/namespaces/\(namespace)/configmaps/\(name)"
    }

    static func kubeconfig(server: String, caPEM: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: ""
          cluster:
            server: \(server)
            certificate-authority-data: \(Data(caPEM.utf8).base64EncodedString())
        contexts: null
        current-context: ""
        preferences: {}
        users: null

        """
    }

    /// Creates the ConfigMap, or brings it up to date when the server address or CA changed.
    static func ensure(_ registry: Registry, server: String, caPEM: String) throws {
        let text = kubeconfig(server: server, caPEM: caPEM)
        let ctx = RequestContext.controllers
        if let current = try registry.getIfPresent(ResourceRegistry.configmaps, namespace: namespace, name: name) {
            guard current["data"]?["kubeconfig"]?.string != text else { return }
            _ = try registry.modify(ResourceRegistry.configmaps, namespace: namespace, name: name) { o in
                o["data"] = .obj(["kubeconfig": .string(text)])
            }
            return
        }
        let object = JSON.obj(["metadata": .obj(["name": .string(name)]), "data": .obj(["kubeconfig": .string(text)])])
        try Seed.createIfMissing(registry, ResourceRegistry.configmaps, namespace, object, ctx)
    }
}
