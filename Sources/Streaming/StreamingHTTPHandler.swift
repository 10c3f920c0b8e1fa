import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Sits in an HTTP/1 server pipeline right after NIO's HTTP codec. Streaming paths (CRI token
/// URLs and kubelet pod paths) are answered here: the connection is upgraded (WebSocket) and
/// the HTTP handlers are replaced by the stream's. Every other request passes through to the
/// handlers behind it untouched, or gets a 404 when there are none (`passThrough` false).
final class StreamingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let core: StreamingCore
    let passThrough: Bool
    private var state = State.idle

    enum State {
        case idle
        case forwarding
        case collecting(HTTPRequestHead, StreamingRoute)
        case upgrading
    }

    init(core: StreamingCore, passThrough: Bool) {
        self.core = core
        self.passThrough = passThrough
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            if let route = StreamingRoute.parse(path) {
                state = .collecting(head, route)
            } else if passThrough {
                state = .forwarding
                context.fireChannelRead(data)
            } else {
                state = .upgrading
                respond(context, StreamingError(status: 404, "not found"))
            }
        case (.forwarding, .end):
            state = .idle
            context.fireChannelRead(data)
        case (.forwarding, _):
            context.fireChannelRead(data)
        case (.collecting(let head, let route), .end):
            state = .upgrading
            prepare(context, head: head, route: route)
        case (.collecting, .body), (.upgrading, _), (.idle, _), (.collecting, .head):
            break
        }
    }

    /// Resolves the request to a session (the resolver may suspend), then upgrades.
    private func prepare(_ context: ChannelHandlerContext, head: HTTPRequestHead, route: StreamingRoute) {
        let core = self.core
        let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init)
        context.eventLoop.makeFutureWithTask {
            try await core.request(for: route, query: query)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let request): self.upgrade(context, head: head, request: request)
            case .failure(let error as StreamingError): self.respond(context, error)
            case .failure(let error): self.respond(context, StreamingError(status: 500, "\(error)"))
            }
        }
    }

    private func upgrade(_ context: ChannelHandlerContext, head: HTTPRequestHead, request: StreamingRequest) {
        let upgrade = head.headers[canonicalForm: "upgrade"].map { $0.lowercased() }
        guard upgrade.contains("websocket") else {
            if upgrade.contains(where: { $0.hasPrefix("spdy/") }) {
                if case .portForward(let options) = request { return upgradeSPDY(context, head: head, options: options) }
                return respond(context, StreamingError(status: 400, "SPDY streaming is not supported by this server for exec and attach; use the WebSocket protocols"))
            }
            return respond(context, StreamingError(status: 400, "Upgrade request required"))
        }
        guard let key = head.headers.first(name: "sec-websocket-key"), !key.isEmpty else {
            return respond(context, StreamingError(status: 400, "missing Sec-WebSocket-Key"))
        }
        let offered = head.headers[canonicalForm: "sec-websocket-protocol"].map { String($0).trimmingCharacters(in: .whitespaces) }
        let supported = WebSocketSubprotocols.supported(for: request)
        guard let chosen = WebSocketSubprotocols.negotiate(offered: offered, supported: supported) else {
            return respond(context, StreamingError(status: 400, "requested protocol(s) are not supported: \(offered); supports \(supported.map(\.name))"))
        }
        let session: any StreamSession
        switch request {
        case .exec(let options):
            session = RemoteCommandSession(kind: .exec(options), runtime: core.runtime, statusFormat: chosen.status)
        case .attach(let options):
            session = RemoteCommandSession(kind: .attach(options), runtime: core.runtime, statusFormat: chosen.status)
        case .portForward(let options):
            session = PortForwardSession(options: options, runtime: core.runtime)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: Self.acceptValue(key))
        if !chosen.name.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: chosen.name) }
        // The encoder turns the response into bytes during these writes, so it can be removed
        // right after; the request decoder is done (the client waits for this response).
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        do {
            let pipeline = context.pipeline.syncOperations
            HTTPHandlerRemoval.removeHTTPHandlers(pipeline)
            let transport = WebSocketTransport(subprotocol: chosen, session: session)
            let encoder = WebSocketFrameEncoder()
            let decoder = ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20))
            let aggregator = NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 12,
                                                         maxAccumulatedFrameSize: 16 << 20)
            try pipeline.addHandler(encoder, position: .after(self))
            try pipeline.addHandler(decoder, position: .after(encoder))
            try pipeline.addHandler(aggregator, position: .after(decoder))
            try pipeline.addHandler(transport, position: .after(aggregator))
            pipeline.removeHandler(context: context, promise: nil)
            transport.begin()
        } catch {
            core.logger.warning("streaming upgrade failed: \(error)")
            context.close(promise: nil)
        }
    }

    /// SPDY/3.1 port forwarding (kubectl falls back to it when the WebSocket tunnel is refused).
    private func upgradeSPDY(_ context: ChannelHandlerContext, head: HTTPRequestHead, options: PortForwardOptions) {
        let offered = head.headers[canonicalForm: "x-stream-protocol-version"].map { $0.trimmingCharacters(in: .whitespaces) }
        guard offered.isEmpty || offered.contains(Self.spdyPortForwardProtocol) else {
            return respond(context, StreamingError(status: 403, "unable to upgrade: unable to negotiate protocol: client supports \(offered), server supports [\(Self.spdyPortForwardProtocol)]"))
        }
        guard upgrade(head).contains("spdy/3.1") else { return respond(context, StreamingError(status: 400, "only SPDY/3.1 is supported")) }
        let handler: SPDYPortForwardHandler
        do { handler = try SPDYPortForwardHandler(options: options, runtime: core.runtime, logger: core.logger) } catch {
            return respond(context, StreamingError(status: 500, "\(error)"))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Upgrade", value: "SPDY/3.1")
        headers.add(name: "X-Stream-Protocol-Version", value: Self.spdyPortForwardProtocol)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        do {
            let pipeline = context.pipeline.syncOperations
            HTTPHandlerRemoval.removeHTTPHandlers(pipeline)
            let decoder = ByteToMessageHandler(SPDYFrameDecoder())
            try pipeline.addHandler(decoder, position: .after(self))
            try pipeline.addHandler(handler, position: .after(decoder))
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            core.logger.warning("SPDY upgrade failed: \(error)")
            context.close(promise: nil)
        }
    }

    static let spdyPortForwardProtocol = "portforward.k8s.io"

    private func upgrade(_ head: HTTPRequestHead) -> [String] {
        head.headers[canonicalForm: "upgrade"].map { $0.lowercased() }
    }

    /// An HTTP error answer, then the connection closes (nothing else is spoken on it).
    private func respond(_ context: ChannelHandlerContext, _ error: StreamingError) {
        var headers = HTTPHeaders()
        let body = error.message + "\n"
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: error.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// RFC 6455: base64(SHA-1(key + the protocol's GUID)).
    static func acceptValue(_ key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Data(digest).base64EncodedString()
    }
}

/// The subprotocols kubelet's streaming server offers, plus v5 (the CLOSE signal) for exec and
/// attach, which kubectl ≥ 1.30 asks for.
enum WebSocketSubprotocols {
    static func supported(for request: StreamingRequest) -> [WebSocketTransport.Subprotocol] {
        switch request {
        case .exec, .attach:
            return [
                .init(name: "v5.channel.k8s.io", base64: false, closeSignal: true, status: .json),
                .init(name: "v4.channel.k8s.io", base64: false, closeSignal: false, status: .json),
                .init(name: "v4.base64.channel.k8s.io", base64: true, closeSignal: false, status: .json),
                .init(name: "channel.k8s.io", base64: false, closeSignal: false, status: .text),
                .init(name: "base64.channel.k8s.io", base64: true, closeSignal: false, status: .text),
                .init(name: "", base64: false, closeSignal: false, status: .text),
            ]
        case .portForward:
            return [
                .init(name: "v4.channel.k8s.io", base64: false, closeSignal: false, status: .json),
                .init(name: "v4.base64.channel.k8s.io", base64: true, closeSignal: false, status: .json),
                .init(name: "", base64: false, closeSignal: false, status: .json),
            ]
        }
    }

    /// The first protocol the client offered that we support (its order wins, as in kubelet);
    /// no offer at all selects "".
    static func negotiate(offered: [String], supported: [WebSocketTransport.Subprotocol]) -> WebSocketTransport.Subprotocol? {
        let wanted = offered.isEmpty ? [""] : offered
        for name in wanted {
            if let match = supported.first(where: { $0.name == name }) { return match }
        }
        return nil
    }
}

/// Takes the HTTP/1 handlers out of a pipeline being upgraded, whichever of them it has.
enum HTTPHandlerRemoval {
    static func removeHTTPHandlers(_ pipeline: ChannelPipeline.SynchronousOperations) {
        if let h = try? pipeline.handler(type: HTTPResponseEncoder.self) { pipeline.removeHandler(h, promise: nil) }
        if let h = try? pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) { pipeline.removeHandler(h, promise: nil) }
        if let h = try? pipeline.handler(type: HTTPServerPipelineHandler.self) { pipeline.removeHandler(h, promise: nil) }
        if let h = try? pipeline.handler(type: HTTPServerProtocolErrorHandler.self) { pipeline.removeHandler(h, promise: nil) }
        if let h = try? pipeline.handler(type: NIOHTTPResponseHeadersValidator.self) { pipeline.removeHandler(h, promise: nil) }
    }
}
