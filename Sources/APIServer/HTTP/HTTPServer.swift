import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTPS/1.1 server on SwiftNIO: one structured child task per connection, one request at a time
/// per connection, streaming bodies for watches and raw takeover for proxied upgrades.
final class HTTPServer: Sendable {
    typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    let host: String
    let port: Int
    let tls: NIOSSLContext
    let group: EventLoopGroup
    let logger: Logger
    static let maxBody = 3 * 1024 * 1024

    init(host: String, port: Int, tls: NIOSSLContext, group: EventLoopGroup, logger: Logger) {
        self.host = host
        self.port = port
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    typealias Conn = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// Binds and serves until cancelled; `makeHandler` gets the bound port (useful with port
    /// 0) and returns the request handler.
    func run(makeHandler: @Sendable (Int) -> Handler) async throws {
        let tls = self.tls
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls), name: "tls")
                    try sync.addHandler(HTTPResponseEncoder(), name: "http-encoder")
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), name: "http-decoder")
                    return try Conn(wrappingChannelSynchronously: channel)
                }
            }
        let handler = makeHandler(server.channel.localAddress?.port ?? port)
        // The accept loop runs in a task of its own, never cancelled while connections may be
        // queued: NIO traps on an accepted connection that is dropped unread (apple/swift-nio#3481).
        // Our cancellation closes the listener instead; the loop then takes out what was
        // queued, closes it, and ends the live connections.
        let listener = server.channel
        let acceptLoop = Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await conn in inbound {
                            if !listener.isActive {
                                group.addTask { try? await conn.executeThenClose { _, _ in } }
                                continue
                            }
                            group.addTask { await self.serve(conn, handler: handler) }
                        }
                    }
                } catch {}
                group.cancelAll()
            }
        }
        await withTaskCancellationHandler {
            await acceptLoop.value
        } onCancel: {
            listener.close(promise: nil)
        }
    }

    private func serve(_ conn: Conn, handler: Handler) async {
        let channel = conn.channel
        do {
            try await conn.executeThenClose { inbound, outbound in
                var it = inbound.makeAsyncIterator()
                var cert: [UInt8]??
                while true {
                    guard case .head(let head)? = try await it.next() else { return }
                    var body: [UInt8] = []
                    var tooLarge = false
                    loop: while let part = try await it.next() {
                        switch part {
                        case .body(var buf):
                            if body.count + buf.readableBytes > Self.maxBody { tooLarge = true; continue }
                            body.append(contentsOf: buf.readBytes(length: buf.readableBytes) ?? [])
                        case .end: break loop
                        case .head: return
                        }
                    }
                    if cert == nil {
                        cert = .some(try? await channel.nioSSL_peerCertificate().get()?.toDERBytes())
                    }
                    let req = HTTPRequest(method: head.method, uri: head.uri, headers: head.headers, body: body,
                                          clientCertificateDER: cert ?? nil)
                    let response = tooLarge ? HTTPResponse.error(.tooLarge()) : await handler(req)
                    let keepAlive = head.isKeepAlive
                    switch response {
                    case .full(let status, var headers, let bytes):
                        headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
                        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                        try await outbound.write(contentsOf: [
                            .head(HTTPResponseHead(version: head.version, status: status, headers: headers)),
                            .body(.byteBuffer(ByteBuffer(bytes: bytes))),
                            .end(nil),
                        ])
                        if !keepAlive { return }
                    case .stream(let status, var headers, let producer):
                        headers.replaceOrAdd(name: "Connection", value: "close")
                        headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                        // From here the body is framed by us and written as raw bytes: with the
                        // encoder gone, one framed buffer can go to many watchers unchanged.
                        try await channel.pipeline.removeHandler(name: "http-encoder").get()
                        let writer = ResponseBodyWriter(write: { buf in try await channel.writeAndFlush(ChunkFraming.frame(buf)).get() },
                                                        channel: channel)
                        await withTaskGroup(of: Void.self) { g in
                            g.addTask {
                                defer { channel.close(promise: nil) }
                                try? await producer(writer)
                                try? await channel.writeAndFlush(ChunkFraming.last).get()
                            }
                            // The client closing its side is the only way to learn a watcher left.
                            while let _ = try? await it.next() {}
                            g.cancelAll()
                        }
                        return
                    case .takeover(let body):
                        let t = ConnectionTakeover(
                            channel: channel,
                            respond: { resp in
                                if case .full(let status, var headers, let bytes) = resp {
                                    headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
                                    headers.replaceOrAdd(name: "Connection", value: "close")
                                    try await outbound.write(contentsOf: [
                                        .head(HTTPResponseHead(version: head.version, status: status, headers: headers)),
                                        .body(.byteBuffer(ByteBuffer(bytes: bytes))), .end(nil),
                                    ])
                                }
                            },
                            switchToRaw: { head101, makeHandler in
                                try await channel.eventLoop.flatSubmit {
                                    let sync = channel.pipeline.syncOperations
                                    if let head101 { channel.writeAndFlush(HTTPServerResponsePart.head(head101), promise: nil) }
                                    do {
                                        // Raw handler goes after the decoder so bytes the decoder already
                                        // buffered are forwarded to it when the decoder is removed.
                                        let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                                        try sync.addHandler(makeHandler(), position: .after(decoder))
                                    } catch {
                                        return channel.eventLoop.makeFailedFuture(error)
                                    }
                                    return channel.pipeline.removeHandler(name: "http-encoder").flatMap {
                                        channel.pipeline.removeHandler(name: "http-decoder")
                                    }
                                }.get()
                            })
                        try await body(t)
                        return
                    }
                }
            }
        } catch {
            logger.trace("connection ended: \(error)")
        }
    }
}
