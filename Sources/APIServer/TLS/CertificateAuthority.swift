import Crypto
import Foundation
import SwiftASN1
import X509

/// The cluster CA: signs the serving certificate and every client certificate (admin, nodes,
/// the API server's own kubelet client). ECDSA P-256, which Go, Python and OpenSSL all accept.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    /// Raw scalar of the CA key (swift-crypto keys are not Sendable; rebuilt per use).
    let keyRaw: [UInt8]
    func signingKey() throws -> P256.Signing.PrivateKey { try P256.Signing.PrivateKey(rawRepresentation: keyRaw) }

    init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        keyRaw = Array(key.rawRepresentation)
    }

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    /// Loads `ca.crt`/`ca.key` from `dir`; fails naming the file when one is missing or bad.
    public static func load(in dir: String) throws -> CertificateAuthority {
        let crt = dir + "/ca.crt", keyPath = dir + "/ca.key"
        let certText: String, keyText: String
        do {
            certText = try String(contentsOfFile: crt, encoding: .utf8)
            keyText = try String(contentsOfFile: keyPath, encoding: .utf8)
        } catch {
            throw APIServerError.setup("cannot read the CA in \(dir) (ca.crt, ca.key): \(error.localizedDescription); start the API server once with this --data-dir first")
        }
        do {
            let cert = try Certificate(pemEncoded: certText)
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyText)
            return CertificateAuthority(certificate: cert, key: key)
        } catch {
            throw APIServerError.setup("\(crt) or \(keyPath) is not a PEM ECDSA P-256 certificate and key: \(error)")
        }
    }

    /// Loads `ca.crt`/`ca.key` from `dir`, creating them on first start.
    public static func loadOrCreate(in dir: String) throws -> CertificateAuthority {
        let crt = dir + "/ca.crt", keyPath = dir + "/ca.key"
        if FileManager.default.fileExists(atPath: crt), FileManager.default.fileExists(atPath: keyPath) {
            return try load(in: dir)
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("swiftlet-ca") }
        let now = Date()
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 10 * 365 * 86400,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        try FileIO.writeAtomically(keyPath, key.pemRepresentation, mode: 0o600)
        try FileIO.writeAtomically(crt, cert.serializeAsPEM().pemString, mode: 0o644)
        return CertificateAuthority(certificate: cert, key: key)
    }

    /// A leaf certificate and its key, both PEM.
    public struct Issued: Sendable {
        public let certificatePEM: String
        public let keyPEM: String
    }

    /// Issues a leaf: `commonName` and `organizations` become the Kubernetes user and groups for
    /// client certificates; `dnsNames`/`ips` the SANs of serving certificates.
    public func issue(
        commonName: String, organizations: [String] = [], dnsNames: [String] = [], ips: [String] = [],
        server: Bool, client: Bool, validDays: Int = 365
    ) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            for o in organizations { OrganizationName(o) }
            CommonName(commonName)
        }
        var usages: [ExtendedKeyUsage.Usage] = []
        if server { usages.append(.serverAuth) }
        if client { usages.append(.clientAuth) }
        var sans: [GeneralName] = dnsNames.map { .dnsName($0) }
        for ip in ips { if let bytes = IPAddress.bytes(ip) { sans.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...]))) } }
        let caSKI = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let now = Date()
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + Double(validDays) * 86400,
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage(usages)
                SubjectKeyIdentifier(hash: .init(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: caSKI)
                if !sans.isEmpty { SubjectAlternativeNames(sans) }
            },
            issuerPrivateKey: .init(signingKey()))
        return Issued(certificatePEM: try cert.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
    }

    /// The user (CN) and groups (O) of a client certificate that TLS already verified against us.
    public static func identity(fromDER der: [UInt8]) -> (user: String, groups: [String])? {
        guard let cert = try? Certificate(derEncoded: der) else { return nil }
        var cn: String?
        var orgs: [String] = []
        for rdn in cert.subject {
            for attr in rdn {
                if attr.type == .RDNAttributeType.commonName { cn = String(describing: attr.value) }
                if attr.type == .RDNAttributeType.organizationName { orgs.append(String(describing: attr.value)) }
            }
        }
        guard let cn, !cn.isEmpty else { return nil }
        return (cn, orgs)
    }
}

/// Files the server writes into its data directory, always atomically (temp file + rename).
enum FileIO {
    static func writeAtomically(_ path: String, _ text: String, mode: Int) throws {
        let tmp = path + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw APIError.internal("cannot write \(tmp)")
        }
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw APIError.internal("rename(\(tmp), \(path)): \(String(cString: strerror(e)))")
        }
    }
}

/// IPv4/IPv6 text to bytes (no Glibc inet_pton needed for the forms we write).
enum IPAddress {
    static func bytes(_ s: String) -> [UInt8]? {
        if let v4 = v4(s) { return v4 }
        return v6(s)
    }

    static func v4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    static func v6(_ s: String) -> [UInt8]? {
        guard s.contains(":") else { return nil }
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ t: String) -> [UInt16]? {
            if t.isEmpty { return [] }
            var g: [UInt16] = []
            for p in t.split(separator: ":", omittingEmptySubsequences: false) {
                guard let v = UInt16(p, radix: 16) else { return nil }
                g.append(v)
            }
            return g
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) : []
        guard let tail else { return nil }
        let fill = 8 - head.count - tail.count
        guard fill >= 0, halves.count == 2 || fill == 0 else { return nil }
        let all = head + Array(repeating: 0, count: fill) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
