import Foundation
import NIOCore
import NIOWebSocket

/// The Kubernetes WebSocket channel protocols over one upgraded connection: every binary
/// message starts with its channel number (`base64.` variants: an ASCII digit and base64 text);
/// v5 adds the CLOSE signal, a message `[255, channel]` that half-closes a channel.
final class WebSocketTransport: ChannelInboundHandler, StreamTransport {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    struct Subprotocol: Sendable, Equatable {
        var name: String
        var base64: Bool
        var closeSignal: Bool
        var status: StatusFormat
    }

    static let closeChannel: UInt8 = 255

    let subprotocol: Subprotocol
    let session: any StreamSession
    private var context: ChannelHandlerContext?
    private var closing = false
    private(set) var allocator = ByteBufferAllocator()

    init(subprotocol: Subprotocol, session: any StreamSession) {
        self.subprotocol = subprotocol
        self.session = session
    }

    var eventLoop: any EventLoop { context!.eventLoop }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
    }

    /// Starts the session once the whole WebSocket pipeline is in place.
    func begin() {
        session.start(transport: self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            var payload = frame.unmaskedData
            guard var channel = payload.readInteger(as: UInt8.self) else { return }
            if subprotocol.base64 {
                guard channel >= 48, let text = payload.readString(length: payload.readableBytes),
                      let decoded = Data(base64Encoded: text) else { return }
                channel -= 48
                payload = context.channel.allocator.buffer(bytes: decoded)
            }
            if subprotocol.closeSignal && channel == Self.closeChannel {
                if let target = payload.readInteger(as: UInt8.self) { session.remoteClosed(target) }
                return
            }
            session.received(channel, payload)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            if !closing {
                closing = true
                var code = context.channel.allocator.buffer(capacity: 2)
                code.write(webSocketErrorCode: .normalClosure)
                let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.transportClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func send(_ stream: UInt8, _ bytes: ByteBuffer) {
        guard let context, !closing else { return }
        var buffer: ByteBuffer
        let opcode: WebSocketOpcode
        if subprotocol.base64 {
            let text = String(UnicodeScalar(48 + stream)) + Data(bytes.readableBytesView).base64EncodedString()
            buffer = context.channel.allocator.buffer(string: text)
            opcode = .text
        } else {
            buffer = context.channel.allocator.buffer(capacity: bytes.readableBytes + 1)
            buffer.writeInteger(stream)
            var copy = bytes
            buffer.writeBuffer(&copy)
            opcode = .binary
        }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: buffer)), promise: nil)
    }

    func closeStream(_ stream: UInt8) {
        guard subprotocol.closeSignal, let context, !closing else { return }
        let buffer = context.channel.allocator.buffer(bytes: [Self.closeChannel, stream])
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    func finish() {
        guard let context, !closing else { return }
        closing = true
        var code = context.channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
        // The client answers with its own close frame; give it a moment, then close anyway.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}
