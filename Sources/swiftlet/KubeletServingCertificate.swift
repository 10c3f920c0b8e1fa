import Crypto
import Foundation
import LinuxPrimitives
import NIOSSL
import SwiftASN1
import X509

/// The kubelet port's TLS: a self-signed serving certificate kept in `<root>/pki` (as kubelet
/// makes `kubelet.crt` when none is given), and client certificates required and verified
/// against the cluster CA from the kubeconfig, so anonymous callers are refused at the handshake.
enum KubeletServingCertificate {
    static func tlsConfiguration(rootDir: String, nodeName: String, nodeIP: String, clusterCA: [UInt8]?) throws -> TLSConfiguration {
        let dir = rootDir + "/pki"
        try FileSystem.createDirectory(dir, mode: 0o700)
        let certPath = dir + "/kubelet.crt", keyPath = dir + "/kubelet.key"
        if !FileSystem.exists(certPath) || !FileSystem.exists(keyPath) {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("\(nodeName)@\(Int(Date().timeIntervalSince1970))") }
            var sans: [GeneralName] = [.dnsName(nodeName), .dnsName("localhost")]
            for ip in [nodeIP, "127.0.0.1"] where !ip.isEmpty {
                let parts = ip.split(separator: ".").compactMap { UInt8($0) }
                if parts.count == 4 { sans.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(parts)))) }
            }
            let now = Date()
            let cert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 365 * 86400, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(sans)
                },
                issuerPrivateKey: .init(key))
            try FileSystem.writeAtomically(keyPath, key.pemRepresentation, mode: 0o600)
            try FileSystem.writeAtomically(certPath, try cert.serializeAsPEM().pemString, mode: 0o644)
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certPath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        if let clusterCA {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(clusterCA))
            tls.certificateVerification = .noHostnameVerification
        }
        return tls
    }
}
