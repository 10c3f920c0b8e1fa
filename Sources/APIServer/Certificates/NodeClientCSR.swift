import Crypto
import Foundation
import SwiftASN1
import X509

/// CertificateSigningRequests for the `kubernetes.io/kube-apiserver-client-kubelet` signer:
/// what the requester is recorded as, when the request is approved on its own (as
/// kube-controller-manager's csrapproving controller does for node client certificates),
/// and the certificate our CA signs for it (its csrsigning controller).
enum NodeClientCSR {
    static let signerName = "kubernetes.io/kube-apiserver-client-kubelet"
    /// The client certificate signers this server signs for once a request is approved.
    static let signedHere: Set<String> = [signerName, "kubernetes.io/kube-apiserver-client"]
    static let allowedUsages: Set<String> = ["digital signature", "key encipherment", "client auth"]
    static let approvedReason = "AutoApproved"

    /// Upstream's registry strategy: who asked is taken from the request, never from the body.
    static func prepareForCreate(_ csr: inout JSON, user: UserInfo) {
        var spec = csr["spec"] ?? .object(JSONObject())
        spec["username"] = .string(user.name)
        spec["uid"] = user.uid.isEmpty ? nil : .string(user.uid)
        spec["groups"] = .array(user.groups.map { .string($0) })
        spec["extra"] = nil
        csr["spec"] = spec
        csr["status"] = .object(JSONObject())
    }

    /// The PKCS#10 request in `spec.request` (base64 of PEM), or why not.
    static func parseRequest(_ csr: JSON) throws(APIError) -> CertificateSigningRequest {
        guard let b64 = csr["spec"]?["request"]?.string, let data = Data(base64Encoded: b64) else {
            throw APIError.invalid(ResourceRegistry.csrs, csr.name, [.required("spec.request", "")])
        }
        do {
            return try CertificateSigningRequest(pemEncoded: String(decoding: data, as: UTF8.self))
        } catch {
            throw APIError.invalid(ResourceRegistry.csrs, csr.name, [.invalid("spec.request", .string("<request>"), "PEM block type must be CERTIFICATE REQUEST")])
        }
    }

    /// The subject's CN and organizations.
    static func names(_ request: CertificateSigningRequest) -> (cn: String, orgs: [String]) {
        var cn = ""
        var orgs: [String] = []
        for rdn in request.subject {
            for attr in rdn {
                if attr.type == .RDNAttributeType.commonName { cn = String(describing: attr.value) }
                if attr.type == .RDNAttributeType.organizationName { orgs.append(String(describing: attr.value)) }
            }
        }
        return (cn, orgs)
    }

    /// Why this request is not one to approve on its own, or nil when it is: the node client
    /// signer, `O=system:nodes`, `CN=system:node:<name>`, no subject alternative names, usages
    /// within digital signature/key encipherment/client auth (with client auth), a valid
    /// signature, asked by a bootstrap token or by that same node (renewal).
    static func autoApprovalRefusal(_ csr: JSON) -> String? {
        guard csr["spec"]?["signerName"]?.string == signerName else { return "signer is not \(signerName)" }
        guard let request = try? parseRequest(csr) else { return "spec.request is not a PEM certificate request" }
        let (cn, orgs) = names(request)
        guard orgs == ["system:nodes"] else { return "organization must be exactly system:nodes" }
        guard cn.hasPrefix("system:node:"), cn.count > "system:node:".count else { return "common name must be system:node:<name>" }
        for attribute in request.attributes {
            if let ext = try? ExtensionRequest(attribute), (try? ext.extensions.subjectAlternativeNames) != nil {
                return "a node client certificate has no subject alternative names"
            }
        }
        let usages = Set((csr["spec"]?["usages"]?.array ?? []).compactMap(\.string))
        guard usages.contains("client auth"), usages.isSubset(of: allowedUsages) else {
            return "usages must include client auth and be among \(allowedUsages.sorted())"
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else { return "the request's signature is not valid" }
        let username = csr["spec"]?["username"]?.string ?? ""
        let groups = (csr["spec"]?["groups"]?.array ?? []).compactMap(\.string)
        if groups.contains(BootstrapToken.group) { return nil }
        if groups.contains("system:nodes"), username == cn { return nil }
        return "requested by \(username), neither a bootstrap token nor the node itself"
    }

    static func condition(_ csr: JSON, _ type: String) -> Bool {
        (csr["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == type && ($0["status"]?.string ?? "True") == "True" }
    }

    /// Signs the request with the cluster CA: a client certificate for the requested subject
    /// and key, valid for `spec.expirationSeconds` (at least 10 minutes) or one year.
    static func sign(_ csr: JSON, ca: CertificateAuthority, now: Date = Date()) throws -> String {
        let request = try parseRequest(csr)
        var lifetime: Double = 365 * 86400
        if let seconds = csr["spec"]?["expirationSeconds"]?.int { lifetime = min(lifetime, Double(max(600, seconds))) }
        let caSKI = try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: request.publicKey,
            notValidBefore: now - 300, notValidAfter: now + lifetime,
            issuer: ca.certificate.subject, subject: request.subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: caSKI)
            },
            issuerPrivateKey: .init(ca.signingKey()))
        return try cert.serializeAsPEM().pemString
    }
}

extension CertificateAuthority {
    /// kubeadm's `--discovery-token-ca-cert-hash` of a CA certificate: `sha256:` and the hex
    /// SHA-256 of its DER SubjectPublicKeyInfo (what `openssl x509 -pubkey | openssl pkey
    /// -pubin -outform der | sha256sum` prints).
    public static func publicKeyPin(certificatePEM: String) throws -> String {
        let cert = try Certificate(pemEncoded: certificatePEM)
        // The whole DER SubjectPublicKeyInfo (algorithm + key), not just the key bits.
        var serializer = DER.Serializer()
        try serializer.serialize(cert.publicKey)
        let digest = SHA256.hash(data: serializer.serializedBytes)
        return "sha256:" + digest.map { String(format: "%02x", $0) }.joined()
    }

    public var publicKeyPin: String { (try? Self.publicKeyPin(certificatePEM: certificatePEM)) ?? "" }
}
