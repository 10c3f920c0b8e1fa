import Crypto
import Foundation
import Logging
import Testing
import X509

@testable import APIServer

/// Bootstrap tokens, what they may do, and the node client CSRs approved and signed for them.
@Suite struct BootstrapTokenTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func tokensParseOnlyInUpstreamsForm() {
        #expect(BootstrapToken("abcdef.0123456789abcdef")?.id == "abcdef")
        #expect(BootstrapToken("abcdef.0123456789abcdef")?.secretName == "bootstrap-token-abcdef")
        for bad in ["ABCDEF.0123456789abcdef", "abcde.0123456789abcdef", "abcdef.0123456789abcde", "abcdef0123456789abcdef",
                    "abcdef.0123456789abcdef.x", "abcdef.012345678-abcdef", ""] {
            #expect(BootstrapToken(bad) == nil, "\(bad)")
        }
        let generated = BootstrapToken.generate()
        #expect(BootstrapToken(generated.text) == generated)
        #expect(BootstrapToken.generate() != generated)
    }

    @Test func aTokenIsValidOnlyWithItsSecretBeforeItsExpiration() throws {
        let token = try #require(BootstrapToken("abcdef.0123456789abcdef"))
        let secret = token.secretObject(expiration: Self.now.addingTimeInterval(3600), description: "t",
                                        extraGroups: ["system:bootstrappers:worker", "system:masters"])
        let user = try #require(token.user(secretObject: secret, now: Self.now))
        #expect(user.name == "system:bootstrap:abcdef")
        // Extra groups outside system:bootstrappers (system:masters!) are dropped.
        #expect(user.groups == ["system:bootstrappers", "system:bootstrappers:worker"])
        #expect(token.user(secretObject: secret, now: Self.now.addingTimeInterval(3601)) == nil)
        let wrong = try #require(BootstrapToken("abcdef.0123456789abcdee"))
        #expect(wrong.user(secretObject: secret, now: Self.now) == nil)
        var notForAuth = secret
        notForAuth.set(["data", "usage-bootstrap-authentication"], .string(Data("false".utf8).base64EncodedString()))
        #expect(token.user(secretObject: notForAuth, now: Self.now) == nil)
        var otherType = secret
        otherType["type"] = "Opaque"
        #expect(token.user(secretObject: otherType, now: Self.now) == nil)
        #expect(token.user(secretObject: token.secretObject(expiration: nil, description: "forever"), now: .distantFuture) != nil)
    }

    @Test func theAuthenticatorReadsTheSecretOnEveryRequest() throws {
        let f = try RegistryFixture()
        let token = try #require(BootstrapToken("abcdef.0123456789abcdef"))
        let store = f.store
        let auth = Authenticator(tokens: [], bootstrapSecret: { try? store.get(ObjectKey("secrets", "kube-system", $0)) })
        #expect(auth.authenticate(authorization: "Bearer \(token.text)", clientCertificateDER: nil) == nil)
        // Made the way kubeadm documents it: stringData, which the server turns into data.
        let plain = token.secretData(expiration: Date().addingTimeInterval(600), description: "x")
        var stringData = JSONObject()
        for (k, v) in plain { stringData[k] = .string(v) }
        _ = try f.registry.create(ResourceRegistry.secrets, namespace: "kube-system", object: .obj([
            "metadata": .obj(["name": .string(token.secretName)]), "type": .string(BootstrapToken.secretType), "stringData": .object(stringData),
        ]), context: RegistryFixture.admin)
        let user = try #require(auth.authenticate(authorization: "Bearer \(token.text)", clientCertificateDER: nil))
        #expect(user.groups.contains("system:bootstrappers") && user.groups.contains("system:authenticated"))
        _ = try f.registry.delete(ResourceRegistry.secrets, namespace: "kube-system", name: token.secretName, context: RegistryFixture.admin)
        #expect(auth.authenticate(authorization: "Bearer \(token.text)", clientCertificateDER: nil) == nil)
    }

    @Test func bootstrappersAndAnonymousMayDoOneThingEach() throws {
        let f = try RegistryFixture()
        let authz = Authorizer(store: f.store)
        let boot = UserInfo(name: "system:bootstrap:abcdef", groups: ["system:bootstrappers", "system:authenticated"])
        func attrs(_ user: UserInfo, _ verb: String, _ r: ResourceType, ns: String = "", name: String = "") -> RequestAttributes {
            var a = RequestAttributes(user: user, verb: verb, resource: r)
            a.namespace = ns
            a.name = name
            return a
        }
        for verb in ["create", "get", "list", "watch"] { #expect(throws: Never.self) { try authz.authorize(attrs(boot, verb, ResourceRegistry.csrs)) } }
        #expect(throws: APIError.self) { try authz.authorize(attrs(boot, "delete", ResourceRegistry.csrs, name: "x")) }
        #expect(throws: APIError.self) { try authz.authorize(attrs(boot, "list", ResourceRegistry.pods, ns: "default")) }
        #expect(throws: APIError.self) { try authz.authorize(attrs(boot, "get", ResourceRegistry.secrets, ns: "kube-system", name: "bootstrap-token-abcdef")) }
        #expect(throws: Never.self) { try authz.authorize(attrs(.anonymous, "get", ResourceRegistry.configmaps, ns: "kube-public", name: "cluster-info")) }
        #expect(throws: APIError.self) { try authz.authorize(attrs(.anonymous, "list", ResourceRegistry.configmaps, ns: "kube-public")) }
        #expect(throws: APIError.self) { try authz.authorize(attrs(.anonymous, "get", ResourceRegistry.configmaps, ns: "default", name: "cluster-info")) }
    }

    static func csr(cn: String, orgs: [String], usages: [String] = ["digital signature", "client auth"], groups: [String],
                    username: String, signer: String = NodeClientCSR.signerName) throws -> JSON {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            for o in orgs { OrganizationName(o) }
            CommonName(cn)
        }
        let request = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: .init(key), attributes: .init(),
                                                    signatureAlgorithm: .ecdsaWithSHA256)
        let b64 = Data(try request.serializeAsPEM().pemString.utf8).base64EncodedString()
        return .obj(["metadata": .obj(["name": "node-csr-1"]), "spec": .obj([
            "request": .string(b64), "signerName": .string(signer), "usages": .array(usages.map { .string($0) }),
            "username": .string(username), "groups": .array(groups.map { .string($0) }),
        ])])
    }

    @Test func onlyNodeClientRequestsAreApprovedOnTheirOwn() throws {
        let boot = ["system:bootstrappers", "system:authenticated"]
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], groups: boot, username: "system:bootstrap:abcdef")) == nil)
        // Renewal by the node itself, yes; by another node, no.
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], groups: ["system:nodes"], username: "system:node:n1")) == nil)
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], groups: ["system:nodes"], username: "system:node:n2")) != nil)
        // Asking to be an administrator is not a node client certificate.
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes", "system:masters"], groups: boot, username: "b")) != nil)
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "admin", orgs: ["system:nodes"], groups: boot, username: "b")) != nil)
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], usages: ["server auth"], groups: boot, username: "b")) != nil)
        #expect(NodeClientCSR.autoApprovalRefusal(try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], groups: boot, username: "b",
                                                               signer: "kubernetes.io/kubelet-serving")) != nil)
    }

    @Test func theSignedCertificateCarriesTheRequestedIdentity() throws {
        let dir = try TempDir()
        let ca = try CertificateAuthority.loadOrCreate(in: dir.path)
        let csr = try Self.csr(cn: "system:node:n1", orgs: ["system:nodes"], groups: ["system:bootstrappers"], username: "b")
        let pem = try NodeClientCSR.sign(csr, ca: ca)
        let cert = try Certificate(pemEncoded: pem)
        let identity = try #require(CertificateAuthority.identity(fromDER: try cert.serializeAsPEM().derBytes))
        #expect(identity.user == "system:node:n1" && identity.groups == ["system:nodes"])
        #expect(cert.issuer == ca.certificate.subject)
        #expect(try cert.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(ca.certificate.publicKey.isValidSignature(cert.signature, for: cert))
    }

    @Test func theCAPinIsTheHashOfItsPublicKeyInfo() throws {
        let dir = try TempDir()
        let ca = try CertificateAuthority.loadOrCreate(in: dir.path)
        let pin = ca.publicKeyPin
        #expect(pin.hasPrefix("sha256:") && pin.count == 7 + 64)
        // kubeadm's documented way to compute it, with openssl.
        if commandExists("openssl") {
            let r = try Command.runBlocking(["sh", "-c", "openssl x509 -pubkey -noout -in \(dir.path)/ca.crt | openssl pkey -pubin -outform der | sha256sum"])
            #expect("sha256:" + (r.stdout.split(separator: " ").first.map(String.init) ?? "") == pin)
        }
        let other = try TempDir()
        #expect(try CertificateAuthority.loadOrCreate(in: other.path).publicKeyPin != pin)
    }

    @Test func expiredTokenSecretsAreCleanedUp() throws {
        let f = try RegistryFixture()
        let expired = try #require(BootstrapToken("aaaaaa.0123456789abcdef"))
        let valid = try #require(BootstrapToken("bbbbbb.0123456789abcdef"))
        let forever = try #require(BootstrapToken("cccccc.0123456789abcdef"))
        for (token, expiration) in [(expired, Date().addingTimeInterval(-60)), (valid, Date().addingTimeInterval(3600)), (forever, nil)] {
            _ = try f.registry.create(ResourceRegistry.secrets, namespace: "kube-system",
                                      object: token.secretObject(expiration: expiration, description: "t"), context: RegistryFixture.admin)
        }
        let cleaner = TokenCleaner(registry: f.registry, logger: Logger(label: "test"))
        for token in [expired, valid, forever] { try cleaner.reconcile(token.secretName) }
        #expect(try f.registry.getIfPresent(ResourceRegistry.secrets, namespace: "kube-system", name: expired.secretName) == nil)
        #expect(try f.registry.getIfPresent(ResourceRegistry.secrets, namespace: "kube-system", name: valid.secretName) != nil)
        #expect(try f.registry.getIfPresent(ResourceRegistry.secrets, namespace: "kube-system", name: forever.secretName) != nil)
    }
}
