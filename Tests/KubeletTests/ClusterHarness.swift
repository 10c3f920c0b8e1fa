import Foundation
import Glibc

/// Separate processes, as a real cluster runs them: `swiftlet apiserver` and
/// `swiftlet agent --kubeconfig` (with a node kubeconfig from `swiftlet apiserver
/// issue-node-kubeconfig`), both inside the harness's network namespace. The node's address
/// lives on a veth inside that namespace, so nothing is added to the host's namespace.
extension AgentHarness {
    var apiserverDataDir: String { root + "/apiserver" }
    var apiserverLog: String { base + "/apiserver.log" }

    /// `eth0` holding `address` (CIDR notation) inside the node's namespace: one end of a veth
    /// pair whose both ends stay there (this kernel has no dummy links), so it has a carrier.
    func addNodeAddress(_ address: String, device: String = "eth0") throws {
        try run("/usr/sbin/ip", ["-n", netns, "link", "add", device, "type", "veth", "peer", "name", device + "p"])
        try run("/usr/sbin/ip", ["-n", netns, "addr", "add", address, "dev", device])
        try run("/usr/sbin/ip", ["-n", netns, "link", "set", device + "p", "up"])
        try run("/usr/sbin/ip", ["-n", netns, "link", "set", device, "up"])
    }

    /// A node address `10.253.N.2/24` with N random (1-250), so that suites running at once
    /// do not share a subnet; N also picks the node's pod CIDR.
    func addRandomNodeAddress() throws -> (ip: String, third: Int) {
        let third = Int.random(in: 1...250)
        let ip = "10.253.\(third).2"
        try addNodeAddress(ip + "/24")
        return (ip, third)
    }

    /// How multi-process suites begin: a random node address, and `swiftlet apiserver` serving
    /// on it (a free port, the address in its certificate); `server` is its URL.
    func startAPIServerOnNodeAddress(extra: [String] = []) async throws
        -> (nodeIP: String, third: Int, server: String, process: Process) {
        let (nodeIP, third) = try addRandomNodeAddress()
        let port = AgentHarness.freePort()
        let process = try await startAPIServer(port: port, sans: [nodeIP], extra: extra)
        return (nodeIP, third, "https://\(nodeIP):\(port)", process)
    }

    /// Starts `swiftlet apiserver` and waits until kubectl gets an answer from it.
    func startAPIServer(port: Int, sans: [String], extra: [String] = []) async throws -> Process {
        let p = try background([AgentHarness.buildDir + "/swiftlet", "apiserver", "--data-dir", apiserverDataDir, "--bind-address", "0.0.0.0",
                                "--secure-port", String(port)] + sans.flatMap { ["--tls-san", $0] } + extra,
                               log: apiserverLog, append: true)
        guard await eventually(60, { self.kubectl(["get", "namespaces", "default", "-o", "name"]) == "namespace/default\n" }) else {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw HarnessError(message: "the API server did not answer: \(tail(apiserverLog))")
        }
        return p
    }

    /// `swiftlet agent` in API mode, as node `name`, with its own root, run dir and cgroup root
    /// (those of this harness).
    /// `caDataDir` is the API server's data directory (another harness's, for a second node).
    func startJoinedAgent(name: String, nodeIP: String, server: String, podCIDR: String, caDataDir: String? = nil,
                          extra: [String] = []) throws {
        let nodeKubeconfig = base + "/\(name).kubeconfig"
        if !FileManager.default.fileExists(atPath: nodeKubeconfig) {
            try run(AgentHarness.buildDir + "/swiftlet", ["apiserver", "issue-node-kubeconfig", "--data-dir", caDataDir ?? apiserverDataDir,
                                                          "--node-name", name, "--server", server, "--out", nodeKubeconfig])
        }
        agent = try background([AgentHarness.buildDir + "/swiftlet", "agent", "--kubeconfig", nodeKubeconfig, "--node-name", name,
                                "--node-ip", nodeIP, "--root-dir", root, "--cni-conf-dir", base + "/cni", "--cni-bin-dir", AgentHarness.buildDir,
                                "--pod-log-dir", logDir, "--cgroup-root", cgroupRoot, "--port", String(AgentHarness.freePort()),
                                "--read-only-port", "0", "--pod-cidr", podCIDR] + extra,
                               log: agentLog, append: true)
    }

    /// A long-running command inside the node's network namespace, output to `log`; the caller
    /// stops it.
    func background(_ command: [String], log: String, append: Bool = false) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: inNetns[0])
        p.arguments = [inNetns[1]] + command
        if !append || !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    func stop(_ process: Process?) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func tail(_ path: String, _ count: Int = 30) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// The status of the node's Ready condition ("True", "False", "Unknown"), nil when unknown.
    func nodeReady(_ name: String) -> String? {
        kubectl(["get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"])
    }

    /// HTTP GET from inside the node's namespace; the body, or nil.
    func curl(_ url: String, timeout: Int = 3) -> String? {
        try? run(inNetns[0], [inNetns[1], "/usr/bin/curl", "-sf", "--max-time", String(timeout), url])
    }
}
