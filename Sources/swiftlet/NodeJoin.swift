import APIServer
import Crypto
import Foundation
import KubeAPI
import KubeClient
import X509

/// Why `swiftlet join` did not write a kubeconfig.
enum JoinError: Error, CustomStringConvertible {
    case invalidFlag(String, String)
    case discovery(String)
    case caMismatch(server: String, got: String, want: String)
    case tokenRefused(String)
    case requestRefused(String)
    case notIssued(String)
    case write(String, String)
    case failed(String)

    var description: String {
        switch self {
        case .invalidFlag(let flag, let why): return "\(flag): \(why)"
        case .discovery(let why): return "discovery: \(why)"
        case .caMismatch(let server, let got, let want):
            return "the CA served by \(server) has public key hash \(got), not \(want) (--discovery-token-ca-cert-hash); refusing to join"
        case .tokenRefused(let why): return "the API server refused the bootstrap token (unknown, expired or not for authentication): \(why)"
        case .requestRefused(let why): return "the certificate signing request was refused: \(why)"
        case .notIssued(let why): return "no certificate: \(why)"
        case .write(let path, let why): return "writing \(path): \(why)"
        case .failed(let why): return why
        }
    }
}

/// kubeadm's join in a reduced form: read `kube-public/cluster-info` without trusting the
/// connection, trust its CA only if its public key hash is the pinned one, then, over TLS
/// verified against that CA and with the bootstrap token, ask for a node client certificate
/// (a CertificateSigningRequest the API server approves and signs) and write a kubeconfig with
/// it. Nothing is written unless every step succeeded.
struct NodeJoin {
    let server: String
    let token: String
    let caCertHash: String
    let nodeName: String
    let output: String
    var timeoutSeconds: Double = 120

    func validate() throws -> BootstrapToken {
        guard server.hasPrefix("https://") else { throw JoinError.invalidFlag("--server", "\"\(server)\" must be an https:// URL") }
        guard let parsed = BootstrapToken(token) else {
            throw JoinError.invalidFlag("--token", "must be of the form [a-z0-9]{6}.[a-z0-9]{16}")
        }
        let hex = caCertHash.lowercased().hasPrefix("sha256:") ? String(caCertHash.dropFirst(7)) : ""
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw JoinError.invalidFlag("--discovery-token-ca-cert-hash", "\"\(caCertHash)\" must be sha256:<64 hex digits>")
        }
        guard !nodeName.isEmpty, nodeName.count <= 253,
              nodeName.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ label in
                  !label.isEmpty && label.first != "-" && label.last != "-" && label.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
              })
        else { throw JoinError.invalidFlag("--node-name", "\"\(nodeName)\" must be a lowercase RFC 1123 subdomain") }
        return parsed
    }

    /// Joins; the kubeconfig is written only at the end.
    func run() async throws {
        let parsed = try validate()
        let caPEM = try await discoverCA()
        let key = P256.Signing.PrivateKey()
        let certificatePEM = try await requestCertificate(caPEM: caPEM, key: key, token: parsed)
        let text = Kubeconfig.render(server: server, caPEM: caPEM, user: "system:node:\(nodeName)",
                                     credential: .clientCertificate(certPEM: certificatePEM, keyPEM: key.pemRepresentation))
        try Self.writeAtomically(output, text)
    }

    /// The CA from cluster-info, checked against the pin.
    func discoverCA() async throws -> String {
        var config = KubeConfig(server: server)
        config.insecureSkipTLSVerify = true  // nothing is trusted from this answer but a CA matching the pin
        let client = try KubeClient(config: config)
        let answer: JSONValue
        do {
            answer = try await client.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw JoinError.discovery("reading kube-public/cluster-info from \(server): \(error)")
        }
        guard let text = answer["data"]?["kubeconfig"]?.stringValue,
              let doc = try? Manifest.documents(text).first,
              let b64 = doc["clusters"]?.arrayValue?.first?["cluster"]?["certificate-authority-data"]?.stringValue,
              let data = Data(base64Encoded: b64, options: .ignoreUnknownCharacters)
        else { throw JoinError.discovery("kube-public/cluster-info from \(server) holds no kubeconfig with certificate-authority-data") }
        let caPEM = String(decoding: data, as: UTF8.self)
        let pin: String
        do { pin = try CertificateAuthority.publicKeyPin(certificatePEM: caPEM) } catch {
            throw JoinError.discovery("the CA in kube-public/cluster-info is not a PEM certificate: \(error)")
        }
        guard pin == caCertHash.lowercased() else { throw JoinError.caMismatch(server: server, got: pin, want: caCertHash) }
        return caPEM
    }

    /// Creates the CSR with the bootstrap token and waits for its certificate.
    func requestCertificate(caPEM: String, key: P256.Signing.PrivateKey, token: BootstrapToken) async throws -> String {
        let subject = try DistinguishedName {
            OrganizationName("system:nodes")
            CommonName("system:node:\(nodeName)")
        }
        let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: .init(key),
                                                attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        let requestPEM = try csr.serializeAsPEM().pemString
        let client = try KubeClient(config: KubeConfig(server: server, certificateAuthority: Array(caPEM.utf8), token: token.text))
        do {
            let pem = try await submitAndWait(client: client, requestPEM: requestPEM, key: key)
            await client.shutdown()
            return pem
        } catch {
            await client.shutdown()
            throw error
        }
    }

    private func submitAndWait(client: KubeClient, requestPEM: String, key: P256.Signing.PrivateKey) async throws -> String {
        let path = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
        let name: String
        do {
            let created = try await client.create(path, .object([
                "apiVersion": .string("certificates.k8s.io/v1"), "kind": .string("CertificateSigningRequest"),
                "metadata": .object(["generateName": .string("node-csr-")]),
                "spec": .object([
                    "request": .string(Data(requestPEM.utf8).base64EncodedString()),
                    "signerName": .string("kubernetes.io/kube-apiserver-client-kubelet"),
                    "usages": .array([.string("digital signature"), .string("client auth")]),
                ]),
            ]))
            name = created["metadata"]?["name"]?.stringValue ?? ""
        } catch let error as KubeAPIError where error.code == 401 {
            throw JoinError.tokenRefused("\(error.code) \(error.reason)")
        } catch let error as KubeAPIError {
            throw JoinError.requestRefused("\(error)")
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let current = try await client.get(path + "/" + name)
            let conditions = current["status"]?["conditions"]?.arrayValue ?? []
            if let bad = conditions.first(where: { ["Denied", "Failed"].contains($0["type"]?.stringValue ?? "") }) {
                throw JoinError.notIssued("\(name) is \(bad["type"]?.stringValue ?? ""): \(bad["message"]?.stringValue ?? "")")
            }
            if let b64 = current["status"]?["certificate"]?.stringValue, let data = Data(base64Encoded: b64) {
                let pem = String(decoding: data, as: UTF8.self)
                let issued = try Certificate(pemEncoded: pem)
                guard issued.publicKey == Certificate.PublicKey(key.publicKey) else {
                    throw JoinError.notIssued("the certificate in \(name) is not for the key that was sent")
                }
                return pem
            }
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        throw JoinError.notIssued("\(name) was not approved and signed within \(Int(timeoutSeconds)) s")
    }

    static func writeAtomically(_ path: String, _ text: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let tmp = path + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw JoinError.write(path, "cannot create \(tmp)")
        }
        if rename(tmp, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw JoinError.write(path, why)
        }
    }
}
