import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives
import Networking
import Testing

/// A network namespace the test made, pinned under /run/netns so `ip -n NAME` can observe it.
struct TestNamespace: Sendable {
    let name: String
    var path: String { "/run/netns/" + name }
}

/// Makes `count` namespaces (and a scratch directory) and removes them whatever happens.
/// The first namespace usually plays the node: plugins run inside it, so the bridge, the
/// host veth ends, sysctls and any nft rules land there and never on the real host.
func withTestNamespaces<R>(_ count: Int, _ body: ([TestNamespace], String) throws -> R) throws -> R {
    var made: [TestNamespace] = []
    let scratch = try makeScratchDirectory()
    defer {
        for ns in made { try? NetworkNamespace.remove(pinnedAt: ns.path) }
        try? FileSystem.removeTree(scratch)
    }
    for _ in 0..<count {
        let ns = TestNamespace(name: "swt-" + RandomBytes.hex(8))
        try NetworkNamespace.create(pinnedAt: ns.path)
        made.append(ns)
    }
    return try body(made, scratch)
}

func withTestNamespaces<R>(_ count: Int, _ body: ([TestNamespace], String) async throws -> R) async throws -> R {
    var made: [TestNamespace] = []
    let scratch = try makeScratchDirectory()
    defer {
        for ns in made { try? NetworkNamespace.remove(pinnedAt: ns.path) }
        try? FileSystem.removeTree(scratch)
    }
    for _ in 0..<count {
        let ns = TestNamespace(name: "swt-" + RandomBytes.hex(8))
        try NetworkNamespace.create(pinnedAt: ns.path)
        made.append(ns)
    }
    return try await body(made, scratch)
}

func makeScratchDirectory() throws -> String {
    var template = Array("/tmp/swiftlet-cni-test-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw SystemError.current("mkdtemp")
    }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Where `swift build` put our plugin executables (next to the test bundle).
let buildDirectory: String = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    var directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    // swift test runs .build/<triple>/debug/swiftletPackageTests.xctest
    if directory.hasSuffix(".xctest") { directory = directory.split(separator: "/").dropLast().joined(separator: "/") }
    return directory.hasPrefix("/") ? directory : "/" + directory
}()

let referencePluginDirectory = "/usr/lib/cni"
let ourPluginsBuilt = FileSystem.exists(buildDirectory + "/swiftlet-bridge") && FileSystem.exists(buildDirectory + "/swiftlet-host-local")
    && FileSystem.exists(buildDirectory + "/swiftlet-loopback") && FileSystem.exists(buildDirectory + "/swiftlet-portmap")
let referencePluginsInstalled = FileSystem.exists(referencePluginDirectory + "/bridge") && FileSystem.exists(referencePluginDirectory + "/host-local")

/// Runs a plugin the way any runtime would: environment variables and the config on stdin,
/// inside `node`'s namespace.
func runPlugin(_ binary: String, _ command: String, config: String, containerID: String = "", netns: String = "",
               ifname: String = "eth0", args: String = "", path: String = buildDirectory, in node: TestNamespace) throws -> Subprocess.Result {
    let environment = [
        "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + containerID, "CNI_NETNS=" + netns, "CNI_IFNAME=" + ifname,
        "CNI_ARGS=" + args, "CNI_PATH=" + path, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    let executable = binary.hasPrefix("/") ? binary : path + "/" + binary
    if CNITestMode.current == .inProcess {
        return try InProcessExecutor(referenceDirectory: buildDirectory, networkNamespace: node.path)
            .execute(path: executable, environment: environment, stdin: Array(config.utf8))
    }
    return try NetworkNamespace.run(node.path) {
        try Subprocess.run(executable, arguments: [binary], environment: environment, input: Array(config.utf8))
    }
}

/// How the tests run our plugins, from `SWIFTLET_CNI_TEST_MODE`: unset, the runtime tests use
/// the agent's default (our plugins in process) and the protocol tests start the executables;
/// `exec` starts executables everywhere, `inprocess` runs our plugins in process everywhere
/// (the protocol tests then check the in-process answers against the same expectations).
enum CNITestMode: String {
    case mixed, exec, inProcess = "inprocess"

    static let current: CNITestMode = {
        guard let raw = getenv("SWIFTLET_CNI_TEST_MODE") else { return .mixed }
        return CNITestMode(rawValue: String(cString: raw)) ?? .mixed
    }()

    /// The executor the runtime tests use inside `node`.
    static func executor(node: TestNamespace) -> any PluginExecutor {
        current == .exec ? SpawnExecutor(networkNamespace: node.path)
            : InProcessExecutor(referenceDirectory: buildDirectory, networkNamespace: node.path)
    }
}

extension Subprocess.Result {
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    var json: JSON? { try? JSON.parse(stdout) }
}

/// `ip` as an observer of what the code under test did.
func ip(_ arguments: String...) throws -> String {
    let result = try Subprocess.run("/usr/sbin/ip", arguments: ["ip"] + arguments, environment: ["PATH=/usr/sbin:/usr/bin:/bin"])
    return result.stdoutText + result.stderrText
}

/// Runs a command inside a namespace (observers and traffic helpers: busybox wget/httpd).
func runIn(_ ns: TestNamespace, _ path: String, _ arguments: [String]) throws -> Subprocess.Result {
    try NetworkNamespace.run(ns.path) {
        try Subprocess.run(path, arguments: arguments, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    }
}

/// Starts a long-running helper inside a namespace; the caller kills it.
func spawnIn(_ ns: TestNamespace, _ path: String, _ arguments: [String]) throws -> pid_t {
    try NetworkNamespace.run(ns.path) {
        try Subprocess.spawn(path, arguments: arguments, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    }
}

func stop(_ pid: pid_t) {
    kill(pid, SIGKILL)
    _ = try? Subprocess.wait(pid)
}
