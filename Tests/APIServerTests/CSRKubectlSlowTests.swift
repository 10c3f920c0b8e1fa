import Crypto
import Foundation
import Testing
import X509

@testable import APIServer

/// CertificateSigningRequests with the real kubectl: a request that is not a node client
/// certificate waits for `kubectl certificate approve` (the approval subresource), then gets
/// its certificate; `deny` leaves it unsigned; the request itself cannot be edited.
@Suite(.serialized, .enabled(if: commandExists("kubectl"), "needs kubectl"))
struct CSRKubectlSlowTests {
    static func requestYAML(name: String, cn: String, signer: String) throws -> String {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(cn) }
        let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: .init(key), attributes: .init(),
                                                signatureAlgorithm: .ecdsaWithSHA256)
        let b64 = Data(try csr.serializeAsPEM().pemString.utf8).base64EncodedString()
        return """
            apiVersion: certificates.k8s.io/v1
            kind: CertificateSigningRequest
            metadata: {name: \(name)}
            spec: {request: \(b64), signerName: \(signer), usages: [client auth]}
            """
    }

    @Test func approveAndDenyWithKubectl() async throws {
        try await withAPIServer { ep, dir in
            let k = Kubectl(ep, dir: dir)
            let jane = try Self.requestYAML(name: "jane", cn: "jane", signer: "kubernetes.io/kube-apiserver-client")
            let bob = try Self.requestYAML(name: "bob", cn: "bob", signer: "kubernetes.io/kube-apiserver-client")
            let applied = try await k("apply", "-f", "-", stdin: jane)
            #expect(applied.ok, "\(applied.stderr)")
            #expect(try await k("apply", "-f", "-", stdin: bob).ok)
            let created = try await k.json("get", "csr", "jane")
            #expect(created["spec"]?["username"]?.string == "admin")
            #expect(created["spec"]?["groups"]?.array?.contains(.string("system:masters")) == true)
            // Not a node client certificate: nothing happens on its own.
            try await Task.sleep(nanoseconds: 500_000_000)
            #expect(try await k.json("get", "csr", "jane")["status"]?["certificate"] == nil)
            let approved = try await k("certificate", "approve", "jane")
            #expect(approved.ok, "\(approved.stderr)")
            #expect(try await eventually(10) { try await k.json("get", "csr", "jane")["status"]?["certificate"] != nil })
            let csr = try await k.json("get", "csr", "jane")
            let pem = String(decoding: Data(base64Encoded: csr["status"]?["certificate"]?.string ?? "") ?? Data(), as: UTF8.self)
            let cert = try Certificate(pemEncoded: pem)
            #expect(CertificateAuthority.identity(fromDER: try cert.serializeAsPEM().derBytes)?.user == "jane")
            #expect(csr["status"]?["conditions"]?.array?.first?["type"]?.string == "Approved")
            let table = try await k("get", "csr", "--no-headers").stdout
            #expect(table.contains("kubernetes.io/kube-apiserver-client") && table.contains("Approved,Issued") && table.contains("Pending"), "\(table)")
            #expect(try await k("certificate", "deny", "bob").ok)
            try await Task.sleep(nanoseconds: 500_000_000)
            let denied = try await k.json("get", "csr", "bob")
            #expect(denied["status"]?["certificate"] == nil)
            #expect(denied["status"]?["conditions"]?.array?.first?["type"]?.string == "Denied")
        }
    }
}
