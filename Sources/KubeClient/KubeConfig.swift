import Foundation
import KubeAPI

/// The parts of a kubeconfig a node agent uses: the current context's server, its CA, and
/// the user's client certificate and key or bearer token (inline `-data` or file paths).
public struct KubeConfig: Sendable, Equatable {
    public var server: String
    public var certificateAuthority: [UInt8]?
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    public var token: String?
    public var insecureSkipTLSVerify = false

    public init(server: String, certificateAuthority: [UInt8]? = nil, clientCertificate: [UInt8]? = nil,
                clientKey: [UInt8]? = nil, token: String? = nil) {
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.token = token
    }

    public struct InvalidKubeConfig: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let message: String
        public var description: String { "kubeconfig \(path): \(message)" }
    }

    public static func load(_ path: String) throws -> KubeConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw InvalidKubeConfig(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        let docs = try Manifest.documents(text, path: path)
        guard let root = docs.first else { throw InvalidKubeConfig(path: path, message: "empty") }
        let base = (path as NSString).deletingLastPathComponent
        func named(_ list: String, _ name: String?, _ field: String) throws -> JSONValue {
            let entries = root[list]?.arrayValue ?? []
            let entry = name.flatMap { n in entries.first { $0["name"]?.stringValue == n } } ?? (entries.count == 1 ? entries.first : nil)
            guard let value = entry?[field] else { throw InvalidKubeConfig(path: path, message: "\(list): no entry \(name ?? "(any)") with \(field)") }
            return value
        }
        let contextName = root["current-context"]?.stringValue
        let context = try? named("contexts", contextName, "context")
        let cluster = try named("clusters", context?["cluster"]?.stringValue, "cluster")
        let user = (try? named("users", context?["user"]?.stringValue, "user")) ?? .object([:])
        func bytes(_ object: JSONValue, data: String, file: String) throws -> [UInt8]? {
            if let b64 = object[data]?.stringValue {
                guard let decoded = Data(base64Encoded: b64, options: .ignoreUnknownCharacters) else {
                    throw InvalidKubeConfig(path: path, message: "\(data) is not base64")
                }
                return [UInt8](decoded)
            }
            if let f = object[file]?.stringValue {
                let full = f.hasPrefix("/") ? f : base + "/" + f
                guard let d = FileManager.default.contents(atPath: full) else { throw InvalidKubeConfig(path: path, message: "cannot read \(file) \(full)") }
                return [UInt8](d)
            }
            return nil
        }
        guard let server = cluster["server"]?.stringValue else { throw InvalidKubeConfig(path: path, message: "cluster has no server") }
        var config = KubeConfig(server: server,
                                certificateAuthority: try bytes(cluster, data: "certificate-authority-data", file: "certificate-authority"),
                                clientCertificate: try bytes(user, data: "client-certificate-data", file: "client-certificate"),
                                clientKey: try bytes(user, data: "client-key-data", file: "client-key"),
                                token: user["token"]?.stringValue)
        if config.token == nil, let tokenFile = user["tokenFile"]?.stringValue {
            config.token = (try? String(contentsOfFile: tokenFile.hasPrefix("/") ? tokenFile : base + "/" + tokenFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        config.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        return config
    }
}
