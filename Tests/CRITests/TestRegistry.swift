import Foundation
import Glibc
import LinuxPrimitives

/// Debian's docker-registry (distribution 2.8) inside the harness's network namespace, plain
/// HTTP on 127.0.0.1, optionally behind htpasswd basic auth; images pushed with skopeo (an
/// independent client). Stopped and removed with the harness.
final class TestRegistry: @unchecked Sendable {
    static let binary = "/usr/bin/docker-registry"
    static var toolsInstalled: Bool {
        access(binary, X_OK) == 0 && access("/usr/bin/skopeo", X_OK) == 0 && access("/usr/bin/htpasswd", X_OK) == 0
    }

    let directory: String
    let port: Int
    let credentials: (user: String, password: String)?
    let harness: CRIHarness
    private var process: Process?
    var host: String { "127.0.0.1:\(port)" }

    init(harness: CRIHarness, credentials: (user: String, password: String)? = nil) throws {
        self.harness = harness
        self.credentials = credentials
        directory = harness.base + "/registry-\(UInt32.random(in: 0...99999))"
        port = Int.random(in: 20000...40000)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        var config = """
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: \(directory)/data
            http:
              addr: 127.0.0.1:\(port)
              secret: swiftlet-cri-test

            """
        if let credentials {
            let line = try harness.run("/usr/bin/htpasswd", ["-Bbn", credentials.user, credentials.password])
            try line.write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            config += """
                auth:
                  htpasswd:
                    realm: swiftlet-test
                    path: \(directory)/htpasswd

                """
        }
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = ["--net=" + harness.netnsPath, Self.binary, "serve", directory + "/config.yml"]
        _ = FileManager.default.createFile(atPath: directory + "/registry.log", contents: nil)
        guard let log = FileHandle(forWritingAtPath: directory + "/registry.log") else {
            throw CRIHarness.HarnessError(message: "cannot open \(directory)/registry.log")
        }
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        for _ in 0..<200 {
            if (try? NetworkNamespaceThread.run(in: harness.netnsPath, { try LoopbackConnection.connect(port: UInt16(port)) }))?.close() != nil { return }
            usleep(25_000)
        }
        throw CRIHarness.HarnessError(message: "registry did not listen on \(host)")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }

    /// Pushes the harness's OCI layout as `repository:tag` and returns the manifest digest.
    func push(as repository: String) throws {
        let policy = directory + "/policy.json"
        try #"{"default":[{"type":"insecureAcceptAnything"}]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        var args = ["--net=" + harness.netnsPath, "/usr/bin/skopeo", "--policy", policy, "copy", "--dest-tls-verify=false"]
        if let credentials { args += ["--dest-creds", "\(credentials.user):\(credentials.password)"] }
        args += ["oci:\(harness.base)/image/oci", "docker://\(host)/\(repository)"]
        try harness.run("/usr/bin/nsenter", args)
    }

    func blobDataPath(_ digest: String) -> String {
        let hex = String(digest.dropFirst(7))
        return "\(directory)/data/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }
}
