import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Proxies pod `log`, `exec`, `attach` and `portforward` to the kubelet of the pod's node
/// (address from `status.addresses` InternalIP, port from
/// `status.daemonEndpoints.kubeletEndpoint.Port`, HTTPS with our kubelet client certificate).
///
/// The kubelet's answer is relayed byte for byte. For upgrade requests (SPDY or WebSocket
/// streams) client bytes are spliced towards the kubelet only after the kubelet really
/// answered `101 Switching Protocols`; any other answer is relayed and the connection closed.
struct KubeletProxy: Sendable {
    let tls: NIOSSLContext
    let group: EventLoopGroup
    let logger: Logger

    init(caPEM: String, clientCertPEM: String, clientKeyPEM: String, group: EventLoopGroup, logger: Logger) throws {
        var c = TLSConfiguration.makeClientConfiguration()
        c.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(clientCertPEM.utf8)).map { .certificate($0) }
        c.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(clientKeyPEM.utf8), format: .pem))
        // As kube-apiserver without --kubelet-certificate-authority: kubelets serve
        // self-signed certificates, so the server's certificate is not verified.
        c.certificateVerification = .none
        c.applicationProtocols = ["http/1.1"]
        tls = try NIOSSLContext(configuration: c)
        self.group = group
        self.logger = logger
    }

    /// Kubelet paths per subresource (the kubelet server's routes).
    static func kubeletPath(_ sub: String, namespace: String, pod: String, container: String) -> String {
        switch sub {
        case "log": return "/containerLogs/\(namespace)/\(pod)/\(container)"
        case "exec": return "/exec/\(namespace)/\(pod)/\(container)"
        case "attach": return "/attach/\(namespace)/\(pod)/\(container)"
        default: return "/portForward/\(namespace)/\(pod)"
        }
    }

    /// Finds the node's kubelet endpoint and the container a request is for.
    func target(info: RequestInfo, request: HTTPRequest, registry: Registry) throws -> (host: String, port: Int, path: String) {
        let r = ResourceRegistry.pods
        let pod = try registry.get(r, namespace: info.namespace, name: info.name)
        guard let nodeName = pod["spec"]?["nodeName"]?.string, !nodeName.isEmpty else {
            throw APIError.badRequest("pod \(info.name) does not have a host assigned")
        }
        var container = request.param("container") ?? ""
        if container.isEmpty, info.subresource != "portforward" {
            let names = (pod["spec"]?["containers"]?.array ?? []).compactMap { $0["name"]?.string }
            guard names.count == 1 else {
                throw APIError.badRequest("a container name must be specified for pod \(info.name), choose one of: [\(names.joined(separator: " "))]")
            }
            container = names[0]
        }
        let node = try registry.get(ResourceRegistry.nodes, namespace: "", name: nodeName)
        guard let host = (node["status"]?["addresses"]?.array ?? []).first(where: { $0["type"]?.string == "InternalIP" })?["address"]?.string else {
            throw APIError.serviceUnavailable("node \(nodeName) reports no InternalIP address")
        }
        guard let port = node["status"]?["daemonEndpoints"]?["kubeletEndpoint"]?["Port"]?.int, port > 0, port < 65536 else {
            throw APIError.serviceUnavailable("node \(nodeName) reports no kubelet port (status.daemonEndpoints.kubeletEndpoint.Port)")
        }
        var path = Self.kubeletPath(info.subresource, namespace: info.namespace, pod: info.name, container: container)
        let query = request.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        if !query.isEmpty { path += "?" + query }
        return (host, Int(port), path)
    }

    static let forwardedHeaders: Set<String> = [
        "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
        "sec-websocket-extensions", "x-stream-protocol-version", "accept", "content-type", "content-length",
    ]

    func proxy(info: RequestInfo, request: HTTPRequest, registry: Registry) async throws -> HTTPResponse {
        if info.subresource == "log", request.method != .GET { throw APIError.methodNotAllowed() }
        let t = try target(info: info, request: request, registry: registry)
        let upgrade = request.headers.first(name: "Upgrade") != nil
        var head = "\(request.method.rawValue) \(t.path) HTTP/1.1\r\nHost: \(t.host.contains(":") ? "[\(t.host)]" : t.host):\(t.port)\r\n"
        for (name, value) in request.headers where Self.forwardedHeaders.contains(name.lowercased()) {
            if !upgrade, name.lowercased() == "connection" { continue }
            head += "\(name): \(value)\r\n"
        }
        if !upgrade { head += "Connection: close\r\n" }
        head += "\r\n"
        let requestBytes = Array(head.utf8) + request.body
        let tls = self.tls, group = self.group, logger = self.logger
        return .takeover { takeover in
            let kubelet: Channel
            let relay = KubeletSideHandler()
            do {
                kubelet = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(10))
                    .channelInitializer { ch in
                        ch.eventLoop.makeCompletedFuture {
                            try ch.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                            try ch.pipeline.syncOperations.addHandler(relay)
                        }
                    }
                    .connect(host: t.host, port: t.port).get()
            } catch {
                try await takeover.respond(.error(.serviceUnavailable("error dialing backend: dial tcp \(t.host):\(t.port): \(error)")))
                return
            }
            defer { kubelet.close(promise: nil) }
            try await kubelet.writeAndFlush(ByteBuffer(bytes: requestBytes))
            let (status, headBytes) = try await relay.responseHead(on: kubelet.eventLoop)
            let client = takeover.channel
            if upgrade, status == 101 {
                try await takeover.switchToRaw(nil) { ForwardHandler(target: kubelet) }
                try await client.writeAndFlush(ByteBuffer(bytes: headBytes))
                try await relay.attach(client, on: kubelet.eventLoop)
                logger.debug("kubelet stream \(t.path) upgraded")
            } else {
                // Relay only, never splice: the kubelet did not switch protocols.
                try await takeover.switchToRaw(nil) { DiscardHandler() }
                try await client.writeAndFlush(ByteBuffer(bytes: headBytes))
                try await relay.attach(client, on: kubelet.eventLoop)
            }
            // Either side closing ends the proxied exchange.
            try? await withThrowingTaskGroup(of: Void.self) { g in
                g.addTask { try await kubelet.closeFuture.get() }
                g.addTask { try await client.closeFuture.get() }
                _ = try await g.next()
                g.cancelAll()
            }
            client.close(promise: nil)
        }
    }
}

/// Kubelet side of a proxied exchange: buffers bytes until the response head is complete,
/// then forwards everything (the head included) to the client channel once attached.
final class KubeletSideHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    // Touched only on the kubelet channel's event loop.
    private var buffer = ByteBuffer()
    private var headPromise: EventLoopPromise<(Int, [UInt8])>?
    private var headDone = false
    private var target: Channel?
    private var closed = false

    func responseHead(on loop: EventLoop) async throws -> (Int, [UInt8]) {
        try await loop.flatSubmit { () -> EventLoopFuture<(Int, [UInt8])> in
            let p = loop.makePromise(of: (Int, [UInt8]).self)
            self.headPromise = p
            self.checkHead()
            if self.closed, !self.headDone { p.fail(APIError.serviceUnavailable("the kubelet closed the connection before answering")) }
            return p.futureResult
        }.get()
    }

    /// Starts forwarding buffered and future bytes to `client`.
    func attach(_ client: Channel, on loop: EventLoop) async throws {
        try await loop.submit {
            self.target = client
            if self.buffer.readableBytes > 0 {
                client.writeAndFlush(self.buffer, promise: nil)
                self.buffer = ByteBuffer()
            }
            if self.closed { client.close(promise: nil) }
        }.get()
    }

    private func checkHead() {
        guard !headDone, let p = headPromise else { return }
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
        headDone = true
        let head = Array(view[view.startIndex..<end.upperBound])
        let line = String(decoding: head.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let status = line.count >= 2 ? Int(line[1]) ?? 0 : 0
        buffer.moveReaderIndex(forwardBy: head.count)
        p.succeed((status, head))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        if let target {
            target.writeAndFlush(b, promise: nil)
            return
        }
        buffer.writeBuffer(&b)
        checkHead()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if !headDone { headPromise?.fail(APIError.serviceUnavailable("the kubelet closed the connection before answering")) }
        target?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Client side after a real 101: every byte goes to the kubelet.
final class ForwardHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let target: Channel
    init(target: Channel) { self.target = target }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        target.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        target.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// Client side when nothing may reach the kubelet: bytes are dropped.
final class DiscardHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
