import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal HTTPS/1.1 keep-alive client on SwiftNIO: cheap enough per request that the
/// benchmark measures the server, not the client.
struct Endpoint: Sendable {
    let host: String
    let port: Int
    let token: String
    let tls: NIOSSLContext
}

typealias HTTPConn = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

func connect(_ ep: Endpoint, group: EventLoopGroup) async throws -> HTTPConn {
    try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: ep.host, port: ep.port) { ch in
            ch.eventLoop.makeCompletedFuture {
                try ch.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: ep.tls, serverHostname: nil))
                try ch.pipeline.syncOperations.addHTTPClientHandlers()
                return try HTTPConn(wrappingChannelSynchronously: ch)
            }
        }
}

func head(_ ep: Endpoint, _ method: HTTPMethod, _ uri: String, bodyLength: Int?) -> HTTPRequestHead {
    var h = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
    h.headers.add(name: "Host", value: "\(ep.host):\(ep.port)")
    h.headers.add(name: "Authorization", value: "Bearer \(ep.token)")
    h.headers.add(name: "Accept", value: "application/json")
    if let bodyLength {
        h.headers.add(name: "Content-Type", value: "application/json")
        h.headers.add(name: "Content-Length", value: String(bodyLength))
    }
    return h
}

/// One request/response exchange on a kept-alive connection.
struct Exchanger {
    let ep: Endpoint
    var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    mutating func send(_ method: HTTPMethod, _ uri: String, body: [UInt8]? = nil) async throws -> (Int, [UInt8]) {
        var parts: [HTTPClientRequestPart] = [.head(head(ep, method, uri, bodyLength: body?.count ?? (method == .GET ? nil : 0)))]
        if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
        var status = 0
        var bytes: [UInt8] = []
        while let part = try await inbound.next() {
            switch part {
            case .head(let h): status = Int(h.status.code)
            case .body(var b): bytes += b.readBytes(length: b.readableBytes) ?? []
            case .end: return (status, bytes)
            }
        }
        throw BenchError("connection closed mid-response")
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
