import Foundation
import Glibc
import LinuxPrimitives
@testable import Images

/// A real registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1 with plain
/// HTTP, optionally behind htpasswd basic auth or a bearer token service, started by the test
/// and stopped (process killed, storage removed) when the value goes away.
final class LocalRegistry {
    enum Auth {
        case none
        case basic(user: String, password: String)
        /// Token auth: realm served by `Fixtures/tokenserver.py` (its own port).
        case token(user: String, password: String)
    }

    static let registryBinary = "/usr/bin/docker-registry"
    static let skopeo = "/usr/bin/skopeo"
    static var toolsInstalled: Bool {
        access(registryBinary, X_OK) == 0 && access(skopeo, X_OK) == 0 && access("/usr/bin/htpasswd", X_OK) == 0
    }

    let directory: String
    let port: UInt16
    var host: String { "127.0.0.1:\(port)" }
    private var pids: [pid_t] = []
    let auth: Auth

    init(in directory: String, auth: Auth = .none) throws {
        self.directory = directory
        self.auth = auth
        try FileSystem.createDirectory(directory + "/data")
        port = try freePort()
        var config = """
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
              secret: swiftlet-test-secret

            """
        switch auth {
        case .none:
            break
        case .basic(let user, let password):
            let result = try Subprocess.run("/usr/bin/htpasswd", arguments: ["htpasswd", "-Bbn", user, password], environment: [])
            try FileSystem.write(directory + "/htpasswd", result.stdout)
            config += """
                auth:
                  htpasswd:
                    realm: swiftlet-test
                    path: \(directory)/htpasswd

                """
        case .token(let user, let password):
            let tokenPort = try freePort()
            let log = try FileDescriptor.open(directory + "/token.log", O_WRONLY | O_CREAT | O_TRUNC)
            defer { log.close() }
            var options = Subprocess.Options()
            options.stdout = log
            options.stderr = log
            pids.append(try Subprocess.spawn(Fixtures.python, arguments: [
                Fixtures.python, Fixtures.directory + "/tokenserver.py", directory, String(tokenPort), user, password,
            ], environment: ["PATH=/usr/bin:/bin"], options: options))
            try waitForPort(tokenPort, file: directory + "/token-cert.pem")
            config += """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: swiftlet-test-registry
                    issuer: swiftlet-test-issuer
                    rootcertbundle: \(directory)/token-cert.pem

                """
        }
        try FileSystem.write(directory + "/config.yml", Array(config.utf8))
        let log = try FileDescriptor.open(directory + "/registry.log", O_WRONLY | O_CREAT | O_TRUNC)
        defer { log.close() }
        var options = Subprocess.Options()
        options.stdout = log
        options.stderr = log
        pids.append(try Subprocess.spawn(Self.registryBinary, arguments: ["docker-registry", "serve", directory + "/config.yml"],
                                         environment: [], options: options))
        try waitForPort(port, file: nil)
    }

    deinit {
        for pid in pids {
            kill(pid, SIGKILL)
            _ = try? Subprocess.wait(pid)
        }
    }

    /// What the registry logged (each request is logged, which is how dedup is observed).
    var log: String { (try? FileSystem.readString(directory + "/registry.log")) ?? "" }

    /// Pushes an image with skopeo (an independent client) from an OCI layout directory.
    func push(_ layout: String, as repository: String, all: Bool = false) throws {
        let policy = directory + "/policy.json"
        try FileSystem.write(policy, Array(#"{"default":[{"type":"insecureAcceptAnything"}]}"#.utf8))
        var arguments = ["skopeo", "--policy", policy, "copy", "--dest-tls-verify=false"]
        if all { arguments.append("--all") }
        switch auth {
        case .none: break
        case .basic(let user, let password), .token(let user, let password): arguments += ["--dest-creds", "\(user):\(password)"]
        }
        arguments += ["oci:\(layout):latest", "docker://\(host)/\(repository)"]
        let result = try Subprocess.run(Self.skopeo, arguments: arguments, environment: ["PATH=/usr/bin:/bin", "HOME=\(directory)"])
        guard result.status.succeeded else {
            throw ImageError.system("skopeo push failed: " + String(decoding: result.stderr, as: UTF8.self))
        }
    }

    /// The file where the registry keeps a blob (for corruption tests).
    func blobDataPath(_ digest: String) -> String {
        let hex = String(digest.dropFirst(7))
        return "\(directory)/data/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    private func waitForPort(_ port: UInt16, file: String?) throws {
        for _ in 0..<200 {
            if let file, !FileSystem.exists(file) { usleep(25_000); continue }
            if canConnect(port) { return }
            usleep(25_000)
        }
        throw ImageError.system("nothing listens on 127.0.0.1:\(port) after 5 s: \(log)")
    }
}

func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SystemError.current("socket") }
    defer { close(fd) }
    var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            try syscall("bind") { bind(fd, raw, length) }
            try syscall("getsockname") { getsockname(fd, raw, &length) }
        }
    }
    return UInt16(bigEndian: address.sin_port)
}

func canConnect(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
