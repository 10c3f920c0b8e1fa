import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The CRI validation suite's "Streaming" group: Exec, Attach and PortForward URLs, spoken to
/// with the WebSocket channel protocols kubectl and kubelet use.
@Suite("CRI streaming (RootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct StreamingRootTests {
    func execURL(_ rt: RuntimeClient, _ id: String, _ cmd: [String], stdin: Bool = false, stdout: Bool = true, stderr: Bool = true,
                 tty: Bool = false) async throws -> String {
        var r = Runtime_V1_ExecRequest()
        r.containerID = id
        r.cmd = cmd
        r.stdin = stdin
        r.stdout = stdout
        r.stderr = stderr
        r.tty = tty
        return try await rt.exec(r).url
    }

    @Test func execOverWebSocketV4V5AndTTY() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("exec", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                let id = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("c", command: CRI.sleeper))

                // v4: separate stdout/stderr, exit code in a metav1.Status on the error channel.
                var ws = try WebSocketTestClient(url: try await execURL(rt, id, ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]),
                                                 netns: h.netnsPath, protocols: ["v4.channel.k8s.io"])
                #expect(ws.status == 101 && ws.subprotocol == "v4.channel.k8s.io")
                var got = try ws.collect()
                #expect(got.text(1) == "out\n" && got.text(2) == "err\n")
                let failure = try JSONSerialization.jsonObject(with: Data(got[3] ?? [])) as? [String: Any]
                #expect(failure?["status"] as? String == "Failure" && failure?["reason"] as? String == "NonZeroExitCode")
                let causes = (failure?["details"] as? [String: Any])?["causes"] as? [[String: Any]]
                #expect(causes?.first?["reason"] as? String == "ExitCode" && causes?.first?["message"] as? String == "7")

                // v5: stdin, then the CLOSE signal ends cat's input; success status.
                ws = try WebSocketTestClient(url: try await execURL(rt, id, ["cat"], stdin: true), netns: h.netnsPath,
                                             protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"])
                #expect(ws.subprotocol == "v5.channel.k8s.io")
                try ws.send(channel: 0, "line one\n")
                try ws.send(channel: 0, "line two\n")
                try ws.sendFrame(opcode: 2, [255, 0])
                got = try ws.collect()
                #expect(got.text(1) == "line one\nline two\n")
                #expect(got.text(3).contains("\"status\":\"Success\""))

                // A terminal: one output stream, resize reaches the program.
                ws = try WebSocketTestClient(url: try await execURL(rt, id, ["/bin/sh"], stdin: true, stderr: false, tty: true),
                                             netns: h.netnsPath, protocols: ["v5.channel.k8s.io"])
                try ws.send(channel: 4, #"{"Width":123,"Height":45}"#)
                try ws.send(channel: 0, "stty size; test -t 0 && echo is-a-terminal; exit 3\n")
                got = try ws.collect()
                #expect(got.text(1).contains("45 123"))
                #expect(got.text(1).contains("is-a-terminal"))
                #expect(got.text(3).contains("\"message\":\"3\""))

                // Old protocol (channel.k8s.io): text error on failure only.
                ws = try WebSocketTestClient(url: try await execURL(rt, id, ["true"]), netns: h.netnsPath, protocols: ["channel.k8s.io"])
                got = try ws.collect()
                #expect(got[3] == nil)

                // Tokens are single use; unknown protocols are refused.
                let url = try await execURL(rt, id, ["true"])
                _ = try WebSocketTestClient(url: url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"]).collect()
                #expect(try WebSocketTestClient(url: url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"]).status == 404)
                #expect(try WebSocketTestClient(url: try await execURL(rt, id, ["true"]), netns: h.netnsPath,
                                                protocols: ["v9.channel.k8s.io"]).status == 400)
                // Bad requests are refused at the RPC.
                #expect(await CRI.code { try await execURL(rt, id, ["true"], stdout: false, stderr: false) } == .invalidArgument)
                #expect(await CRI.code { try await execURL(rt, id, ["true"], tty: true) } == .invalidArgument)
                #expect(await CRI.code { try await execURL(rt, "nope", ["true"]) } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func attachToStdinAndTTYContainers() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("attach", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                var config = CRI.containerConfig("reader", command: ["/bin/sh", "-c", "while read l; do echo got:$l; done; echo bye"])
                config.stdin = true
                config.stdinOnce = true
                let reader = try await CRI.run(rt, sandbox, pod, config)
                var attach = Runtime_V1_AttachRequest()
                attach.containerID = reader
                attach.stdin = true
                attach.stdout = true
                attach.stderr = true
                let ws = try WebSocketTestClient(url: try await rt.attach(attach).url, netns: h.netnsPath, protocols: ["v5.channel.k8s.io"])
                try ws.send(channel: 0, "one\n")
                #expect(try ws.read(channel: 1, until: "got:one").contains("got:one"))
                try ws.send(channel: 0, "two\n")
                try ws.sendFrame(opcode: 2, [255, 0])
                let rest = try ws.collect()
                #expect(rest.text(1).contains("got:two") && rest.text(1).contains("bye"))
                #expect(await CRI.eventually(5) { try await CRI.status(rt, reader).status.state == .containerExited },
                        "stdin_once: closing the attached input ends the container's input")
                let log = try String(contentsOfFile: pod.logDirectory + "/reader/0.log", encoding: .utf8)
                #expect(log.contains("got:one") && log.contains("bye"), "attached output is logged as well")

                // A tty container: output arrives as one stream; resize applies to its terminal.
                var ttyConfig = CRI.containerConfig("tty", command: ["/bin/sh"])
                ttyConfig.stdin = true
                ttyConfig.tty = true
                let tty = try await CRI.run(rt, sandbox, pod, ttyConfig)
                attach.containerID = tty
                attach.stderr = false
                attach.tty = true
                let term = try WebSocketTestClient(url: try await rt.attach(attach).url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"])
                try term.send(channel: 4, #"{"Width":77,"Height":21}"#)
                try await Task.sleep(nanoseconds: 200_000_000)
                try term.send(channel: 0, "stty size\n")
                #expect(try term.read(channel: 1, until: "21 77").contains("21 77"))
                try term.send(channel: 0, "exit 0\n")
                _ = try term.collect()
                #expect(await CRI.eventually(5) { try await CRI.status(rt, tty).status.state == .containerExited })
                // Attaching input to a container created without stdin is refused.
                let plain = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("plain", command: CRI.sleeper))
                attach = Runtime_V1_AttachRequest()
                attach.containerID = plain
                attach.stdin = true
                attach.stdout = true
                let refused = try WebSocketTestClient(url: try await rt.attach(attach).url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"])
                #expect(try refused.collect().text(3).contains("Failure"))
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func portForwardReachesThePodsLoopback() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("pf", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                let server = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("httpd", command: ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"]))
                #expect(await CRI.eventually(5) { try await CRI.sh(rt, server, "grep -c ':1F90 00000000:0000 0A' /proc/net/tcp") == "1" })
                var request = Runtime_V1_PortForwardRequest()
                request.podSandboxID = sandbox
                request.port = [8080]
                let ws = try WebSocketTestClient(url: try await rt.portForward(request).url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"])
                #expect(ws.status == 101)
                try ws.send(channel: 0, "GET /index.html HTTP/1.0\r\n\r\n")
                let got = try ws.collect()
                #expect(got[0]?.prefix(2) == [0x90, 0x1f], "each stream starts with the port, little-endian")
                #expect(got.text(0).contains("200 OK") && got.text(0).contains("hello from the pod"))
                #expect(got[1].map { Array($0) } == [0x90, 0x1f], "no error")

                // Nothing listens: the error stream says so.
                request.port = [9]
                let refused = try WebSocketTestClient(url: try await rt.portForward(request).url, netns: h.netnsPath, protocols: ["v4.channel.k8s.io"])
                let errors = try refused.collect()
                #expect(errors.text(1).contains("ECONNREFUSED") || errors.text(1).contains("refused"))
                request.podSandboxID = "nope"
                #expect(await CRI.code { try await rt.portForward(request) } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
