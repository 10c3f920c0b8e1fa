import Foundation
import Logging

@testable import APIServer

/// A temporary directory removed when the test is done with it.
final class TempDir {
    let path: String

    init() throws {
        var template = Array("/tmp/swiftlet-apiserver-test.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw APIServerError.setup("mkdtemp failed") }
        path = String(cString: p)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A registry over a real SQLite store in a temporary directory (no HTTP, no controllers).
struct RegistryFixture {
    let dir: TempDir
    let store: Store
    let registry: Registry
    let allocator: ServiceAllocator

    init(hubMaxEvents: Int = 10_000) throws {
        dir = try TempDir()
        store = try Store(path: dir.path + "/db", hubMaxEvents: hubMaxEvents)
        allocator = ServiceAllocator(range: try ServiceAllocator.CIDR(parsing: "10.96.0.0/12"))
        registry = Registry(store: store, allocator: allocator, logger: Logger(label: "test"))
        try Seed.ensure(registry, allocator: allocator, securePort: 6443, endpointAddress: nil)
    }

    static let admin = RequestContext.controllers
}

extension JSON {
    /// Parses a literal in tests.
    static func lit(_ s: String) -> JSON {
        do { return try JSON.parse(s) } catch { fatalError("bad test JSON: \(error)") }
    }
}

/// Runs a command to observe the system under test (kubectl, curl, python3), with a timeout.
struct Command {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var ok: Bool { status == 0 }
    }

    /// Runs on a plain thread, not the cooperative pool: an in-process server under test needs
    /// those threads while the command waits.
    static func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:], timeout: TimeInterval = 60) async throws -> Result {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread {
                c.resume(with: Result2 { try runBlocking(args, stdin: stdin, env: env, timeout: timeout) })
            }
        }
    }

    static func runBlocking(_ args: [String], stdin: String? = nil, env: [String: String] = [:], timeout: TimeInterval = 60) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? inp.fileHandleForWriting.close()
        let outData = LockedData(), errData = LockedData()
        let readers = [(out.fileHandleForReading, outData), (err.fileHandleForReading, errData)].map { (h, d) in
            let t = Thread { d.set(h.readDataToEndOfFile()); d.finish() }
            t.start()
            return d
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }  // SIGTERM may be ignored (inherited)
        p.waitUntilExit()
        for r in readers { r.waitFinished() }
        return Result(status: p.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self))
    }
}

typealias Result2<T> = Swift.Result<T, Error>

extension Swift.Result where Failure == Error {
    init(_ body: () throws -> Success) {
        do { self = .success(try body()) } catch { self = .failure(error) }
    }
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSCondition()
    private var done = false
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
    func finish() { lock.lock(); done = true; lock.broadcast(); lock.unlock() }
    func waitFinished() { lock.lock(); while !done { lock.wait() }; lock.unlock() }
}

func commandExists(_ name: String) -> Bool {
    (try? Command.runBlocking(["sh", "-c", "command -v \(name)"]).ok) ?? false
}

/// Polls `body` until it returns true or the timeout passes.
func eventually(_ timeout: TimeInterval = 20, _ body: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await body() { return true }
        try? await Task.sleep(for: .milliseconds(200))
    }
    return try await body()
}

/// Runs an API server in-process on a free port for the duration of `body`.
func withAPIServer<T: Sendable>(
    _ configure: (inout APIServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (APIServerEndpoint, String) async throws -> T
) async throws -> T {
    let dir = try TempDir()
    var config = APIServerConfiguration(dataDir: dir.path)
    config.securePort = 0
    configure(&config)
    var logger = Logger(label: "test.apiserver")
    logger.logLevel = .warning
    let server = try APIServer(configuration: config, logger: logger)
    let path = dir.path
    let result = try await withThrowingTaskGroup(of: T?.self) { g in
        g.addTask {
            try await server.run()
            return nil
        }
        let ep = try await server.waitUntilReady()
        let r: T
        do {
            r = try await body(ep, path)
        } catch {
            g.cancelAll()
            throw error
        }
        g.cancelAll()
        return r
    }
    withExtendedLifetime(dir) {}
    return result
}

/// kubectl against a server, with a per-test discovery cache.
struct Kubectl: Sendable {
    let kubeconfig: String
    let cacheDir: String

    init(_ ep: APIServerEndpoint, dir: String) {
        kubeconfig = ep.adminKubeconfigPath
        cacheDir = dir + "/kubectl-cache"
    }

    init(kubeconfig: String, dir: String) {
        self.kubeconfig = kubeconfig
        cacheDir = dir + "/kubectl-cache"
    }

    @discardableResult
    func callAsFunction(_ args: String..., stdin: String? = nil, timeout: TimeInterval = 60) async throws -> Command.Result {
        try await Command.run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cacheDir, "--request-timeout=20s"] + args,
                              stdin: stdin, timeout: timeout)
    }

    func json(_ args: String...) async throws -> JSON {
        let r = try await Command.run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cacheDir, "-o", "json"] + args)
        guard r.ok else { throw APIServerError.setup("kubectl \(args) failed: \(r.stderr)") }
        return try JSON.parse(r.stdout)
    }
}
