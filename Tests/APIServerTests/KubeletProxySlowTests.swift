import Foundation
import Testing

@testable import APIServer

/// A stand-in kubelet: HTTPS, requires a client certificate from the cluster CA, serves
/// container logs, upgrades /exec (then echoes bytes upper-cased) and refuses /attach with a
/// 400 while recording any byte that still reaches it.
let fakeKubelet = #"""
import socket, ssl, sys, threading
cert, key, ca, portfile, log = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
open(portfile, "w").write(str(srv.getsockname()[1]))
def note(s):
    with open(log, "a") as f: f.write(s + "\n")
def handle(raw):
    try:
        c = ctx.wrap_socket(raw, server_side=True)
    except Exception as e:
        note("TLS-REJECTED %s" % e); return
    cn = dict(x[0] for x in c.getpeercert()["subject"])["commonName"]
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d: return
        head += d
    line = head.split(b"\r\n")[0].decode()
    note("REQUEST %s %s" % (cn, line))
    path = line.split(" ")[1]
    if path.startswith("/containerLogs/"):
        body = ("line-1\nline-2\nquery=%s\n" % path.split("?", 1)[-1]).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        c.close(); return
    if path.startswith("/exec/"):
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d.upper())
        return
    if path.startswith("/attach/"):
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nnot allowed")
        c.settimeout(2)
        try:
            d = c.recv(4096)
            if d: note("ATTACH-LEAK %r" % d)
        except Exception:
            pass
        c.close(); return
while True:
    s, _ = srv.accept()
    threading.Thread(target=handle, args=(s,), daemon=True).start()
"""#

/// Talks the raw upgrade protocol to the API server, as kubectl exec does before SPDY or
/// WebSocket framing starts.
let upgradeClient = #"""
import socket, ssl, sys
host, port, token, ca, path, payload = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection((host, int(port))))
s.sendall(("POST %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\nContent-Length: 0\r\n\r\n" % (path, host, port, token)).encode())
head = b""
while b"\r\n\r\n" not in head:
    d = s.recv(4096)
    if not d: break
    head += d
print("STATUS", head.split(b"\r\n")[0].decode().split(" ")[1], flush=True)
s.sendall(payload.encode())
s.settimeout(3)
got = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
try:
    while len(got) < len(payload):
        d = s.recv(4096)
        if not d: break
        got += d
except Exception:
    pass
print("BODY", got.decode(errors="replace"), flush=True)
"""#

@Suite(.serialized, .enabled(if: commandExists("kubectl") && commandExists("python3"), "needs kubectl and python3"))
struct KubeletProxySlowTests {
    @Test func logsExecAndRefusedUpgradeThroughTheNodesKubelet() async throws {
        try await withAPIServer { ep, dir in
            let k = Kubectl(ep, dir: dir)
            let ca = try CertificateAuthority.load(in: dir + "/pki")
            let serving = try ca.issue(commonName: "fake-kubelet", ips: ["127.0.0.1"], server: true, client: false)
            try serving.certificatePEM.write(toFile: dir + "/kubelet.crt", atomically: true, encoding: .utf8)
            try serving.keyPEM.write(toFile: dir + "/kubelet.key", atomically: true, encoding: .utf8)
            try fakeKubelet.write(toFile: dir + "/kubelet.py", atomically: true, encoding: .utf8)
            let kubelet = Process()
            kubelet.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            kubelet.arguments = ["python3", dir + "/kubelet.py", dir + "/kubelet.crt", dir + "/kubelet.key", dir + "/pki/ca.crt",
                                 dir + "/kubelet.port", dir + "/kubelet.log"]
            try kubelet.run()
            // SIGKILL: the test runner may hand children an ignored SIGTERM.
            defer { kill(kubelet.processIdentifier, SIGKILL); kubelet.waitUntilExit() }
            #expect(await eventually(10) { FileManager.default.fileExists(atPath: dir + "/kubelet.port") })
            let port = try String(contentsOfFile: dir + "/kubelet.port", encoding: .utf8)

            let node = nodeManifest("node-k") + "\n  daemonEndpoints: {kubeletEndpoint: {Port: \(port)}}\n"
            #expect(try await k("create", "-f", "-", stdin: node).ok)
            #expect(try await k("create", "-f", "-", stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                spec: {nodeName: node-k, containers: [{name: c, image: example.local/x:1}]}
                """).ok)

            let logs = try await k("logs", "p", "--tail=2")
            #expect(logs.ok, "\(logs.stderr)")
            #expect(logs.stdout.contains("line-1\nline-2\n"))
            #expect(logs.stdout.contains("tailLines=2"))

            try upgradeClient.write(toFile: dir + "/upgrade.py", atomically: true, encoding: .utf8)
            let host = "127.0.0.1", apiPort = String(ep.port)
            let exec = try await Command.run(["python3", dir + "/upgrade.py", host, apiPort, ep.adminToken, dir + "/pki/ca.crt",
                                              "/api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true", "hello kubelet"])
            #expect(exec.stdout.contains("STATUS 101"), "\(exec.stdout) \(exec.stderr)")
            #expect(exec.stdout.contains("BODY HELLO KUBELET"))

            let attach = try await Command.run(["python3", dir + "/upgrade.py", host, apiPort, ep.adminToken, dir + "/pki/ca.crt",
                                                "/api/v1/namespaces/default/pods/p/attach?stdin=true", "must not arrive"])
            #expect(attach.stdout.contains("STATUS 400"), "\(attach.stdout) \(attach.stderr)")
            #expect(attach.stdout.contains("not allowed"))
            try await Task.sleep(for: .seconds(2.5))
            let seen = try String(contentsOfFile: dir + "/kubelet.log", encoding: .utf8)
            #expect(seen.contains("REQUEST kube-apiserver-kubelet-client GET /containerLogs/default/p/c?"))
            #expect(seen.contains("REQUEST kube-apiserver-kubelet-client POST /exec/default/p/c?command=sh&stdin=true"))
            #expect(!seen.contains("ATTACH-LEAK"), "client bytes reached the kubelet without a 101: \(seen)")

            // A pod on a node without a kubelet port gets a clear error, not a hang.
            #expect(try await k("create", "-f", "-", stdin: nodeManifest("node-none")).ok)
            #expect(try await k("create", "-f", "-", stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: q}
                spec: {nodeName: node-none, containers: [{name: c, image: example.local/x:1}]}
                """).ok)
            let noPort = try await k("logs", "q")
            #expect(!noPort.ok && noPort.stderr.contains("kubelet port"))
        }
    }
}
