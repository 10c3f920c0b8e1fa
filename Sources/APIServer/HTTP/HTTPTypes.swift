import NIOCore
import NIOHTTP1

/// One request, fully read (bodies are small: objects are capped at 3 MiB like upstream).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var uri: String
    public var path: String
    public var query: [String: [String]]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// DER of the client certificate the TLS layer verified against our CA, if one was sent.
    public var clientCertificateDER: [UInt8]?

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8], clientCertificateDER: [UInt8]? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.clientCertificateDER = clientCertificateDER
        let (p, q) = Self.split(uri)
        path = p
        query = q
    }

    public func param(_ name: String) -> String? { query[name]?.first }

    static func split(_ uri: String) -> (String, [String: [String]]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = percentDecode(String(parts[0]), plusIsSpace: false)
        var q: [String: [String]] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let k = percentDecode(String(kv[0]), plusIsSpace: true)
                let v = kv.count > 1 ? percentDecode(String(kv[1]), plusIsSpace: true) : ""
                q[k, default: []].append(v)
            }
        }
        return (path, q)
    }

    static func percentDecode(_ s: String, plusIsSpace: Bool) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else { return s }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "+"), plusIsSpace { out.append(0x20); continue }
            if c == UInt8(ascii: "%"), it.count >= 2, let h = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                out.append(h)
                it = it.dropFirst(2)
                continue
            }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Writes the body of a streaming response (watch, follow logs).
public struct ResponseBodyWriter: Sendable {
    let write: @Sendable (ByteBuffer) async throws -> Void
    /// The connection, for writers that must not wait: `writeNow` queues a body chunk on the
    /// channel from any thread (watch fan-out), `channel.closeFuture` tells when the client left.
    public let channel: Channel

    public func writeNow(_ bytes: [UInt8]) {
        channel.writeAndFlush(ChunkFraming.frame(bytes), promise: nil)
    }

    public func write(_ bytes: [UInt8]) async throws { try await write(ByteBuffer(bytes: bytes)) }
    public func write(_ buffer: ByteBuffer) async throws { try await write(buffer) }
}

public enum HTTPResponse: Sendable {
    case full(HTTPResponseStatus, HTTPHeaders, [UInt8])
    /// Head now, then the body from `producer` until it returns; the connection closes after.
    case stream(HTTPResponseStatus, HTTPHeaders, @Sendable (ResponseBodyWriter) async throws -> Void)
    /// The handler takes the connection over (protocol upgrades proxied to a kubelet).
    case takeover(@Sendable (ConnectionTakeover) async throws -> Void)

    /// The status code sent (101 for a takeover, which proxies an upgrade).
    var statusCode: Int {
        switch self {
        case .full(let status, _, _), .stream(let status, _, _): return Int(status.code)
        case .takeover: return 101
        }
    }

    static func json(_ status: HTTPResponseStatus, _ body: JSON) -> HTTPResponse {
        .full(status, ["Content-Type": "application/json"], body.serialized())
    }

    static func error(_ e: APIError) -> HTTPResponse {
        json(HTTPResponseStatus(statusCode: e.code), e.status)
    }
}

/// What a takeover handler gets: the client channel with its HTTP codec still in place, so it
/// can answer with an HTTP response if the upgrade fails, or switch the channel to raw bytes.
public struct ConnectionTakeover: Sendable {
    public let channel: Channel
    /// Sends an ordinary HTTP response (when the upstream refused the upgrade).
    public let respond: @Sendable (HTTPResponse) async throws -> Void
    /// Writes `head` (when given), installs the handler `makeHandler` builds (on the event loop)
    /// and removes the HTTP codec: from then on the channel carries raw bytes both ways, and the
    /// caller writes raw bytes (a relayed response head included) with `channel.writeAndFlush`.
    public let switchToRaw: @Sendable (HTTPResponseHead?, @escaping @Sendable () -> any ChannelHandler) async throws -> Void
}

/// HTTP/1.1 chunked framing for streamed bodies (the response encoder is out of the pipeline
/// while a body streams).
public enum ChunkFraming {
    static let hex = Array("0123456789abcdef".utf8)
    public static let last = ByteBuffer(string: "0\r\n\r\n")

    public static func frame(_ bytes: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(bytes.count + 16)
        writeHeader(bytes.count, into: &b)
        b.writeBytes(bytes)
        b.writeBytes([13, 10])
        return b
    }

    public static func frame(_ buf: ByteBuffer) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(buf.readableBytes + 16)
        writeHeader(buf.readableBytes, into: &b)
        var copy = buf
        b.writeBuffer(&copy)
        b.writeBytes([13, 10])
        return b
    }

    static func writeHeader(_ n: Int, into b: inout ByteBuffer) {
        var digits: [UInt8] = []
        var v = n
        repeat {
            digits.append(hex[v & 0xF])
            v >>= 4
        } while v > 0
        b.writeBytes(digits.reversed())
        b.writeBytes([13, 10])
    }
}
