import Foundation
import Testing
@testable import Streaming

/// Pure logic of the streaming server: paths, queries, negotiation, status encoding.
@Suite struct StreamingLogicTests {
    @Test func routes() {
        #expect(StreamingRoute.parse("/exec/abc123") == .token(.exec, "abc123"))
        #expect(StreamingRoute.parse("/portforward/t") == .token(.portForward, "t"))
        #expect(StreamingRoute.parse("/exec/ns/pod/ctr") == .pod(.exec, namespace: "ns", pod: "pod", uid: nil, container: "ctr"))
        #expect(StreamingRoute.parse("/attach/ns/pod/uid-1/ctr") == .pod(.attach, namespace: "ns", pod: "pod", uid: "uid-1", container: "ctr"))
        #expect(StreamingRoute.parse("/portForward/ns/pod") == .pod(.portForward, namespace: "ns", pod: "pod", uid: nil, container: nil))
        #expect(StreamingRoute.parse("/portForward/ns/pod/uid") == .pod(.portForward, namespace: "ns", pod: "pod", uid: "uid", container: nil))
        #expect(StreamingRoute.parse("/pods") == nil)
        #expect(StreamingRoute.parse("/exec") == nil)
        #expect(StreamingRoute.parse("/exec/a/b/c/d/e") == nil)
    }

    @Test func kubeletQueries() throws {
        let exec = try StreamingQuery("command=sh&command=-c&command=echo%20hi&input=1&output=1&tty=1").execOptions(containerID: "c")
        #expect(exec.command == ["sh", "-c", "echo hi"] && exec.stdin && exec.stdout && exec.tty && !exec.stderr)
        let apiStyle = try StreamingQuery("command=ls&stdin=true&stdout=true&stderr=true").execOptions(containerID: "c")
        #expect(apiStyle.stdin && apiStyle.stdout && apiStyle.stderr && !apiStyle.tty)
        #expect(throws: StreamingError.self) { try StreamingQuery("output=1").execOptions(containerID: "c") }
        #expect(throws: StreamingError.self) { try StreamingQuery("command=ls").execOptions(containerID: "c") }
        #expect(try StreamingQuery("port=80&port=8080,9090").ports() == [80, 8080, 9090])
        #expect(throws: StreamingError.self) { try StreamingQuery("port=0").ports() }
        #expect(throws: StreamingError.self) { try StreamingQuery("port=http").ports() }
    }

    @Test func negotiation() {
        let exec = WebSocketSubprotocols.supported(for: .exec(ExecOptions(containerID: "c", command: ["ls"])))
        #expect(WebSocketSubprotocols.negotiate(offered: ["v5.channel.k8s.io", "v4.channel.k8s.io"], supported: exec)?.closeSignal == true)
        #expect(WebSocketSubprotocols.negotiate(offered: ["v4.channel.k8s.io", "v5.channel.k8s.io"], supported: exec)?.name == "v4.channel.k8s.io")
        #expect(WebSocketSubprotocols.negotiate(offered: [], supported: exec)?.name == "")
        #expect(WebSocketSubprotocols.negotiate(offered: ["base64.channel.k8s.io"], supported: exec)?.base64 == true)
        #expect(WebSocketSubprotocols.negotiate(offered: ["v9.channel.k8s.io"], supported: exec) == nil)
        let pf = WebSocketSubprotocols.supported(for: .portForward(PortForwardOptions(sandboxID: "s", ports: [80])))
        #expect(WebSocketSubprotocols.negotiate(offered: ["v5.channel.k8s.io"], supported: pf) == nil)
        // RFC 6455's own example.
        #expect(StreamingHTTPHandler.acceptValue("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func statusEncoding() throws {
        #expect(RemoteCommandOutcome.success.encoded(.text) == nil)
        #expect(String(decoding: RemoteCommandOutcome.success.encoded(.json) ?? [], as: UTF8.self) == #"{"metadata":{},"status":"Success"}"#)
        let failure = try JSONSerialization.jsonObject(with: Data(RemoteCommandOutcome.exitCode(42).encoded(.json) ?? [])) as? [String: Any]
        #expect(failure?["reason"] as? String == "NonZeroExitCode")
        let cause = ((failure?["details"] as? [String: Any])?["causes"] as? [[String: Any]])?.first
        #expect(cause?["reason"] as? String == "ExitCode" && cause?["message"] as? String == "42")
        let internalError = try JSONSerialization.jsonObject(with: Data(RemoteCommandOutcome.failure("no \"such\" container").encoded(.json) ?? [])) as? [String: Any]
        #expect(internalError?["code"] as? Int == 500 && (internalError?["message"] as? String)?.contains("no \"such\" container") == true)
    }

    @Test func terminalSizesFromAStream() {
        var buffer = Array(#"{"Width":80,"Height":24}{"Width":100,"#.utf8)
        #expect(TerminalSizeStream.extract(&buffer) == [TerminalSize(width: 80, height: 24)])
        buffer += Array(#""Height":40}"#.utf8) + [10]
        #expect(TerminalSizeStream.extract(&buffer) == [TerminalSize(width: 100, height: 40)])
        var garbage = Array("{not json}".utf8)
        #expect(TerminalSizeStream.extract(&garbage).isEmpty && garbage.isEmpty)
    }

    @Test func tokensAreSingleUseAndExpire() async throws {
        let cache = StreamingRequestCache(ttl: .milliseconds(200), capacity: 2)
        let request = StreamingRequest.exec(ExecOptions(containerID: "c", command: ["ls"]))
        let token = try cache.insert(request)
        #expect(token.count == 32)
        #expect(cache.consume(token) == request)
        #expect(cache.consume(token) == nil)
        let late = try cache.insert(request)
        _ = try cache.insert(request)
        #expect(throws: StreamingError.self) { try cache.insert(request) }
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(cache.consume(late) == nil)
        #expect(throws: Never.self) { try cache.insert(request) }
    }
}
