import Foundation
import Testing

/// Drives `Tests/vm/run-scenario.sh` from Swift tests: one call is one VM boot (Debian bookworm,
/// systemd as PID 1, pure cgroup v2) running one scenario script, whose observations come back
/// as facts. Several checks share one boot because a TCG boot costs 15-30 s (more on a busy host).
enum VMHarness {
    /// The package checkout, found from this file's path so tests run from any directory.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let vmDirectory = packageRoot.appendingPathComponent("Tests/vm")

    /// Why VM tests cannot run here, or nil when they can. CI has qemu and mmdebstrap
    /// (scripts/setup-host.sh installs them), so there this is nil.
    static let unavailableReason: String? = {
        if ProcessInfo.processInfo.environment["SWIFTLET_SKIP_VM"] == "1" { return "SWIFTLET_SKIP_VM=1" }
        if getuid() != 0 { return "needs root (mmdebstrap --mode=root builds the VM image)" }
        for tool in ["qemu-system-x86_64", "mmdebstrap", "mke2fs", "flock", "timeout"] where findInPath(tool) == nil {
            return "\(tool) missing: run scripts/setup-host.sh (installs qemu-system-x86 and mmdebstrap)"
        }
        return nil
    }()

    static var available: Bool { unavailableReason == nil }
    static var skipMessage: Comment { Comment(rawValue: "VM test skipped: \(unavailableReason ?? "")") }

    /// Folder holding the executables built with the tests (`.build/<triple>/<config>`): the test
    /// runner lives there too, so its own path tells which configuration is being tested.
    static var buildProductsDirectory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The runner may sit inside a bundle folder (`swiftletPackageTests.xctest/...`).
        while url.pathExtension == "xctest" || url.lastPathComponent == "Contents" || url.lastPathComponent == "MacOS" {
            url.deleteLastPathComponent()
        }
        return url
    }

    /// A product built beside the tests, e.g. `swiftlet`; nil when it was not built.
    static func builtProduct(_ name: String) -> URL? {
        let url = buildProductsDirectory.appendingPathComponent(name)
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    /// What a node needs in the guest: the agent, the shim and our CNI plugins (found beside it).
    static func nodeBinaries() throws -> [URL] {
        try ["swiftlet", "swiftlet-shim", "swiftlet-bridge", "swiftlet-host-local", "swiftlet-loopback", "swiftlet-portmap"].map { name in
            guard let url = builtProduct(name) else { throw VMHarnessError.missingProduct(name) }
            return url
        }
    }

    enum VMHarnessError: Error { case missingProduct(String) }

    static func findInPath(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        let dirs: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for dir in dirs {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Boots the VM once for `scenario` (a folder under Tests/vm/scenarios) with `binaries` in the
    /// share's bin/ and `extraFiles` copied to their destination inside the share. The share folder is removed when `keepShare` is false and the run passed
    /// (exit 0); otherwise it stays for a look, and its path is in the result.
    static func run(
        scenario: String, binaries: [URL] = [], extraFiles: [(source: URL, destination: String)] = [],
        env: [String: String] = [:],
        timeoutSeconds: Int? = nil, memoryMB: Int = 2048
    ) async throws -> VMResult {
        let share = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftlet-vm-\(scenario)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        let timeout = timeoutSeconds
            ?? ProcessInfo.processInfo.environment["SWIFTLET_VM_TIMEOUT"].flatMap(Int.init) ?? 900
        var arguments = ["--share", share.path, "--timeout", String(timeout), "--memory", String(memoryMB)]
        for binary in binaries { arguments += ["--bin", binary.path] }
        for file in extraFiles { arguments += ["--add", "\(file.source.path):\(file.destination)"] }
        for (key, value) in env.sorted(by: { $0.key < $1.key }) { arguments += ["--env", "\(key)=\(value)"] }
        arguments.append(scenario)

        let log = share.appendingPathExtension("harness.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        let process = Process()
        process.executableURL = vmDirectory.appendingPathComponent("run-scenario.sh")
        process.arguments = arguments
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return VMResult(exitCode: status, share: share, harnessLog: log)
    }
}

/// What one VM boot left behind: run.sh's exit code, output and facts, and the console log.
struct VMResult: CustomStringConvertible {
    let exitCode: Int32
    let share: URL
    let harnessLog: URL

    func text(_ relativePath: String) -> String {
        (try? String(contentsOf: share.appendingPathComponent(relativePath), encoding: .utf8)) ?? ""
    }

    var stdout: String { text(".vm/stdout") }
    var stderr: String { text(".vm/stderr") }
    var console: String { text(".vm/console.log") }

    /// KEY=VALUE lines the scenario recorded in out/facts (the last value wins).
    var facts: [String: String] { keyValues("out/facts") }

    func fact(_ key: String) -> String? { facts[key] }

    /// KEY=VALUE lines of any file in the share.
    func keyValues(_ relativePath: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text(relativePath).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return result
    }
    func intFact(_ key: String) -> Int? { facts[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    /// Removes the share folder: called by tests once they have asserted, if everything passed.
    func removeShare() {
        try? FileManager.default.removeItem(at: share)
        try? FileManager.default.removeItem(at: harnessLog)
    }

    var description: String {
        let harness = (try? String(contentsOf: harnessLog, encoding: .utf8)) ?? ""
        return """
            VM run exit \(exitCode), share \(share.path)
            --- harness (tail) ---
            \(harness.split(separator: "\n").suffix(25).joined(separator: "\n"))
            --- run.sh stderr (tail) ---
            \(stderr.split(separator: "\n").suffix(25).joined(separator: "\n"))
            """
    }
}

/// One assertion about a VM run. Tests list their checks, `expectAll` records a failure per
/// check that does not hold (with the facts and the harness output to explain it) and removes
/// the share folder only when every check held, so a failure leaves the evidence behind.
struct VMCheck {
    let holds: Bool
    let what: String

    init(_ holds: Bool, _ what: String) {
        self.holds = holds
        self.what = what
    }

    static func expectAll(_ checks: [VMCheck], _ run: VMResult, detail: String = "",
                          sourceLocation: SourceLocation = #_sourceLocation) {
        let failed = checks.filter { !$0.holds }
        for check in failed {
            Issue.record(Comment(rawValue: "VM check failed: \(check.what)"), sourceLocation: sourceLocation)
        }
        if failed.isEmpty {
            run.removeShare()
        } else {
            let tail = detail.split(separator: "\n").suffix(40).joined(separator: "\n")
            Issue.record(Comment(rawValue: "\(run)\n--- facts ---\n\(run.text("out/facts"))\n--- detail ---\n\(tail)"),
                         sourceLocation: sourceLocation)
        }
    }
}
