import Logging
import AgentSupport
import Foundation
import Glibc
import Hummingbird
import LinuxPrimitives
import NIOCore
import Streaming
import Synchronization
import Testing

/// The streaming handler mounted on another HTTP/1 server (Hummingbird, as the agent's kubelet
/// port is): kubelet paths are streamed, every other route still answers. The runtime here is
/// a recording fake (the real one is exercised through CRI in CRITests).
@Suite struct KubeletPortMountTests {
    struct FakeRuntime: StreamingRuntime {
        func exec(_ options: ExecOptions, stdin: Int32, stdout: Int32, stderr: Int32) async throws -> Int32 {
            let text = "ran \(options.containerID): \(options.command.joined(separator: " ")) tty=\(options.tty)\n"
            _ = text.withCString { write(stdout, $0, strlen($0)) }
            return options.command.last == "fail" ? 3 : 0
        }
        func attach(_ options: AttachOptions, stdin: Int32?, stdout: Int32, stderr: Int32) async throws -> any StreamingAttachment {
            throw StreamingError(status: 400, "attach is not faked")
        }
        func resize(containerID: String, to size: TerminalSize) async throws {}
        func connect(sandboxID: String, port: UInt16) async throws -> Int32 {
            throw StreamingError(status: 400, "connect is not faked")
        }
    }

    struct FakeResolver: StreamingResolver {
        func containerID(namespace: String, pod: String, uid: String?, container: String) async -> String? {
            namespace == "default" && pod == "web" && container == "app" ? "cid-1" : nil
        }
        func sandboxID(namespace: String, pod: String, uid: String?) async -> String? { nil }
    }

    @Test func kubeletPathsStreamAndOtherRoutesStillAnswer() async throws {
        let streaming = StreamingServer(runtime: FakeRuntime(), resolver: FakeResolver())
        let router = Router()
        router.get("/healthz") { _, _ in "ok" }
        let port = Mutex(0)
        let app = Application(router: router, server: .http1(configuration: .init(additionalChannelHandlers: [streaming.httpHandler()])),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port ?? 0 } })
        let server = Task { try await GracefulService.run(app, logger: Logger(label: "test.http")) }
        defer { server.cancel() }
        for _ in 0..<200 where port.withLock({ $0 }) == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        let p = port.withLock { $0 }
        #expect(p > 0)

        // The blocking client runs off the cooperative pool: the server answers from that pool.
        #expect(try await DetachedThread.run { try PlainHTTP.get(port: p, path: "/healthz") }.contains("\r\n\r\nok"))
        let out = try await DetachedThread.run { try PlainHTTP.webSocketExec(port: p, path: "/exec/default/web/app?command=echo&command=hi&output=1", protocol: "v5.channel.k8s.io") }
        #expect(out.status == 101)
        #expect(String(decoding: out.channels[1] ?? [], as: UTF8.self) == "ran cid-1: echo hi tty=false\n")
        #expect(String(decoding: out.channels[3] ?? [], as: UTF8.self) == #"{"metadata":{},"status":"Success"}"#)
        let failed = try await DetachedThread.run { try PlainHTTP.webSocketExec(port: p, path: "/exec/default/web/app?command=fail&output=1", protocol: "v4.channel.k8s.io") }
        #expect(String(decoding: failed.channels[3] ?? [], as: UTF8.self).contains("NonZeroExitCode"))
        #expect(try await DetachedThread.run { try PlainHTTP.webSocketExec(port: p, path: "/exec/default/other/app?command=ls&output=1", protocol: "v5.channel.k8s.io") }.status == 404)
        #expect(try await DetachedThread.run { try PlainHTTP.webSocketExec(port: p, path: "/exec/default/web/app?output=1", protocol: "v5.channel.k8s.io") }.status == 400)
        // A keep-alive connection serves ordinary requests after the interceptor let one pass.
        #expect(try await DetachedThread.run { try PlainHTTP.get(port: p, path: "/healthz") }.contains("ok"))
    }
}

/// Just enough HTTP/1.1 and WebSocket to drive the server above.
enum PlainHTTP {
    static func connect(_ port: Int) throws -> Int32 {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            close(s)
            throw SystemError.current("connect")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return out }
            out += chunk[0..<n]
        }
    }

    static func get(port: Int, path: String) throws -> String {
        let fd = try connect(port)
        defer { close(fd) }
        send(fd, Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
        return String(decoding: readAll(fd), as: UTF8.self)
    }

    /// Upgrades, then reads frames until the close frame; returns status and data per channel.
    static func webSocketExec(port: Int, path: String, protocol proto: String) throws -> (status: Int, channels: [UInt8: [UInt8]]) {
        let fd = try connect(port)
        defer { close(fd) }
        send(fd, Array(("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: \(proto)\r\n\r\n").utf8))
        let bytes = readAll(fd)
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return (0, [:]) }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var rest = Array(bytes[end.upperBound...])
        var channels: [UInt8: [UInt8]] = [:]
        while rest.count >= 2 {
            let opcode = rest[0] & 0x0f
            var length = Int(rest[1] & 0x7f)
            var header = 2
            if length == 126 { length = Int(rest[2]) << 8 | Int(rest[3]); header = 4 }
            guard rest.count >= header + length else { break }
            let payload = Array(rest[header..<(header + length)])
            rest.removeFirst(header + length)
            if opcode == 8 { break }
            if opcode == 2, let channel = payload.first { channels[channel, default: []] += payload.dropFirst() }
        }
        return (status, channels)
    }
}
