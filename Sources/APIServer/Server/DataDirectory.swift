import Foundation
import NIOSSL

/// The files the server keeps in `--data-dir`: created on first start, reused after.
///
///     apiserver.db                       objects (SQLite, WAL)
///     pki/ca.crt, pki/ca.key             the cluster CA
///     pki/apiserver.crt, .key            serving certificate (re-issued when its names change)
///     pki/apiserver-kubelet-client.*     our client identity towards kubelets
///     admin-token                        the admin bearer token
///     admin.kubeconfig                   kubectl --kubeconfig works with it alone
public struct DataDirectory: Sendable {
    public let path: String
    public var databasePath: String { path + "/apiserver.db" }
    public var pkiPath: String { path + "/pki" }
    public var adminKubeconfigPath: String { path + "/admin.kubeconfig" }
    public var adminTokenPath: String { path + "/admin-token" }
    public var caCertificatePath: String { pkiPath + "/ca.crt" }

    public init(_ path: String) { self.path = path }

    /// Creates the directories (0700: they hold keys).
    public func prepare() throws {
        for d in [path, pkiPath] {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: d, isDirectory: &isDir) {
                guard isDir.boolValue else { throw APIServerError.setup("\(d) exists and is not a directory") }
                continue
            }
            do {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw APIServerError.setup("cannot create \(d): \(error.localizedDescription)")
            }
        }
    }

    public func certificateAuthority() throws -> CertificateAuthority {
        try CertificateAuthority.loadOrCreate(in: pkiPath)
    }

    /// The admin token, generated once.
    public func adminToken() throws -> String {
        if let t = try? String(contentsOfFile: adminTokenPath, encoding: .utf8) {
            let token = t.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return token }
        }
        let token = Identifiers.token()
        try FileIO.writeAtomically(adminTokenPath, token + "\n", mode: 0o600)
        return token
    }

    /// The serving certificate for `sans`, re-issued when the set of names differs.
    func servingCertificate(ca: CertificateAuthority, sans: [String]) throws -> (cert: String, key: String) {
        let crt = pkiPath + "/apiserver.crt", key = pkiPath + "/apiserver.key", names = pkiPath + "/apiserver.sans"
        let wanted = sans.joined(separator: "\n")
        if let have = try? String(contentsOfFile: names, encoding: .utf8), have == wanted,
           let c = try? String(contentsOfFile: crt, encoding: .utf8), let k = try? String(contentsOfFile: key, encoding: .utf8)
        {
            return (c, k)
        }
        let ips = sans.filter { IPAddress.bytes($0) != nil }
        let dns = sans.filter { IPAddress.bytes($0) == nil }
        let issued = try ca.issue(commonName: "kube-apiserver", dnsNames: dns, ips: ips, server: true, client: false)
        try FileIO.writeAtomically(key, issued.keyPEM, mode: 0o600)
        try FileIO.writeAtomically(crt, issued.certificatePEM, mode: 0o644)
        try FileIO.writeAtomically(names, wanted, mode: 0o644)
        return (issued.certificatePEM, issued.keyPEM)
    }

    /// Our client certificate towards kubelets (`system:masters`, as kube-apiserver's
    /// `--kubelet-client-certificate`).
    func kubeletClientCertificate(ca: CertificateAuthority) throws -> (cert: String, key: String) {
        let crt = pkiPath + "/apiserver-kubelet-client.crt", key = pkiPath + "/apiserver-kubelet-client.key"
        if let c = try? String(contentsOfFile: crt, encoding: .utf8), let k = try? String(contentsOfFile: key, encoding: .utf8) {
            return (c, k)
        }
        let issued = try ca.issue(commonName: "kube-apiserver-kubelet-client", organizations: ["system:masters"], server: false, client: true)
        try FileIO.writeAtomically(key, issued.keyPEM, mode: 0o600)
        try FileIO.writeAtomically(crt, issued.certificatePEM, mode: 0o644)
        return (issued.certificatePEM, issued.keyPEM)
    }

    public func writeAdminKubeconfig(server: String, ca: CertificateAuthority, token: String) throws {
        let text = Kubeconfig.render(server: server, caPEM: ca.certificatePEM, user: "admin", credential: .token(token))
        try FileIO.writeAtomically(adminKubeconfigPath, text, mode: 0o600)
    }

    /// A kubeconfig for a node agent: client certificate CN=system:node:<name>, O=system:nodes,
    /// signed by the CA in this directory. Works offline (the server need not run).
    public func issueNodeKubeconfig(nodeName: String, server: String, out: String) throws {
        guard !nodeName.isEmpty, Validation.isDNS1123Subdomain(nodeName) else {
            throw APIServerError.setup("--node-name \"\(nodeName)\": must be a lowercase RFC 1123 subdomain")
        }
        let ca = try CertificateAuthority.load(in: pkiPath)
        let issued = try ca.issue(commonName: "system:node:\(nodeName)", organizations: ["system:nodes"], server: false, client: true)
        let text = Kubeconfig.render(server: server, caPEM: ca.certificatePEM, user: "system:node:\(nodeName)",
                                     credential: .clientCertificate(certPEM: issued.certificatePEM, keyPEM: issued.keyPEM))
        try FileIO.writeAtomically(out, text, mode: 0o600)
    }
}

public enum APIServerError: Error, CustomStringConvertible, Sendable {
    case setup(String)
    public var description: String {
        switch self {
        case .setup(let m): return m
        }
    }
}
