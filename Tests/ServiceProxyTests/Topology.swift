import Foundation
import Glibc
import LinuxPrimitives

/// A node with backends and a client, each in its own network namespace, wired with veth
/// pairs (set up and observed with `ip`/`nft`; the code under test uses netlink only):
///
///     client 10.251.0.2 --- 10.251.0.1 [node] 10.250.i.1 --- 10.250.i.2 backend i
///                              uplink 10.249.0.1 (default route, as a real node has)
///
/// Every namespace and process it made goes in `tearDown()`.
final class Topology: @unchecked Sendable {
    let prefix: String
    let backends: Int
    var processes: [pid_t] = []
    let scratch: String

    var node: String { "\(prefix)-node" }
    var client: String { "\(prefix)-cl" }
    func backend(_ i: Int) -> String { "\(prefix)-be\(i)" }
    var nodePath: String { "/run/netns/\(node)" }

    init(backends: Int) throws {
        prefix = "swpx\(getpid() % 10000)\(Int.random(in: 100...999))"
        self.backends = backends
        scratch = NSTemporaryDirectory() + prefix
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        do { try build() } catch { tearDown(); throw error }
    }

    private func build() throws {
        var script = """
        set -e
        ip netns add \(node); ip -n \(node) link set lo up
        ip -n \(node) link add up0 type veth peer name up1
        ip -n \(node) link set up0 up; ip -n \(node) link set up1 up
        ip -n \(node) addr add 10.249.0.1/30 dev up0; ip -n \(node) route add default via 10.249.0.2 dev up0
        ip netns exec \(node) sysctl -qw net.ipv4.ip_forward=1
        ip netns add \(client); ip -n \(client) link set lo up
        ip -n \(node) link add cl0 type veth peer name eth0 netns \(client)
        ip -n \(node) addr add 10.251.0.1/24 dev cl0; ip -n \(node) link set cl0 up
        ip -n \(client) addr add 10.251.0.2/24 dev eth0; ip -n \(client) link set eth0 up
        ip -n \(client) route add default via 10.251.0.1

        """
        for i in 1...backends {
            script += """
            ip netns add \(backend(i)); ip -n \(backend(i)) link set lo up
            ip -n \(node) link add be\(i) type veth peer name eth0 netns \(backend(i))
            ip -n \(node) addr add 10.250.\(i).1/24 dev be\(i); ip -n \(node) link set be\(i) up
            ip -n \(backend(i)) addr add 10.250.\(i).2/24 dev eth0; ip -n \(backend(i)) link set eth0 up
            ip -n \(backend(i)) route add default via 10.250.\(i).1

            """
        }
        try shell(script)
    }

    func backendIP(_ i: Int) -> String { "10.250.\(i).2" }

    /// HTTP on :8080 answering `backend-i`, and UDP on :5353 answering `backend-i`.
    func startServers() throws {
        let server = scratch + "/server.py"
        try """
        import socket, sys, threading, http.server
        name, ip = sys.argv[1], sys.argv[2]
        def udp():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, 5353))
            while True:
                _, peer = s.recvfrom(2048)
                s.sendto(name.encode(), peer)
        threading.Thread(target=udp, daemon=True).start()
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = name.encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
            def log_message(self, *a): pass
        http.server.ThreadingHTTPServer((ip, 8080), H).serve_forever()
        """.write(toFile: server, atomically: true, encoding: .utf8)
        for i in 1...backends {
            let pid = try Subprocess.spawn("/usr/bin/ip", arguments: ["ip", "netns", "exec", backend(i), "python3", server, "backend-\(i)", backendIP(i)],
                                           environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
            processes.append(pid)
        }
        for i in 1...backends {
            try waitUntil(seconds: 10, "backend \(i) listening") {
                (try? shell("ip netns exec \(backend(i)) ss -ltn | grep -q ':8080 '")) != nil
            }
        }
    }

    /// Runs the Python client in a namespace: `http URL N` counts answers, `udp IP PORT SPORT`
    /// sends one datagram from a fixed source port and prints the answer.
    func clientRun(_ ns: String, _ args: String) throws -> String {
        let path = scratch + "/client.py"
        if !FileManager.default.fileExists(atPath: path) {
            try """
            import sys, json, socket, urllib.request, collections, time
            mode = sys.argv[1]
            if mode == "http":
                url, n = sys.argv[2], int(sys.argv[3]); c = collections.Counter()
                for _ in range(n):
                    try: c[urllib.request.urlopen(url, timeout=2).read().decode()] += 1
                    except Exception as e: c["error:" + type(getattr(e, "reason", e)).__name__] += 1
                print(json.dumps(c))
            elif mode == "udp":
                ip, port, sport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("", sport)); s.settimeout(2)
                s.connect((ip, port))
                try: s.send(b"hi")
                except PermissionError: print("refused-locally"); sys.exit(0)
                try: print(s.recv(100).decode())
                except ConnectionRefusedError: print("refused")
                except socket.timeout: print("timeout")
            elif mode == "connect":
                ip, port = sys.argv[2], int(sys.argv[3]); t = time.time()
                try:
                    socket.create_connection((ip, port), timeout=3); r = "connected"
                except ConnectionRefusedError: r = "refused"
                except socket.timeout: r = "timeout"
                except OSError as e: r = "error:" + str(e.errno)
                print(json.dumps({"result": r, "ms": int((time.time() - t) * 1000)}))
            """.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return try shell("ip netns exec \(ns) python3 \(path) \(args)").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func httpCounts(from ns: String, url: String, count: Int) throws -> [String: Int] {
        let text = try clientRun(ns, "http \(url) \(count)")
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Int]) ?? [:]
    }

    func tearDown() {
        for pid in processes {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        processes = []
        var names = [node, client]
        for i in 1...max(backends, 1) { names.append(backend(i)) }
        for n in names { _ = try? shell("ip netns del \(n) 2>/dev/null || true") }
        try? FileManager.default.removeItem(atPath: scratch)
    }
}

struct ShellError: Error, CustomStringConvertible {
    let command: String
    let stderr: String
    var description: String { "`\(command.prefix(200))` failed: \(stderr)" }
}

@discardableResult
func shell(_ command: String) throws -> String {
    let result = try Subprocess.run("/bin/sh", arguments: ["sh", "-c", command], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    guard result.status.succeeded else { throw ShellError(command: command, stderr: String(decoding: result.stderr, as: UTF8.self)) }
    return String(decoding: result.stdout, as: UTF8.self)
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

func waitUntil(seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(50_000)
    }
    throw TimeoutError(what: what)
}
