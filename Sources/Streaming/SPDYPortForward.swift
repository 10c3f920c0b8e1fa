import Glibc
import Logging
import NIOCore
import NIOPosix

/// Port forwarding over SPDY/3.1 (`portforward.k8s.io`), as kubectl speaks it when the
/// WebSocket variant is refused. Per forwarded connection the client opens an `error` and a
/// `data` stream carrying the same `requestid` and `port` headers; every stream gets a
/// SYN_REPLY, the data stream is spliced to a TCP connection to the port on the pod's loopback,
/// and when the pod side closes, both streams are finished (FIN). A failure to connect is
/// written on the error stream.
final class SPDYPortForwardHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYFrame
    typealias OutboundOut = ByteBuffer

    struct Request {
        var dataStream: UInt32?
        var errorStream: UInt32?
        var port: UInt16 = 0
        var connection: (any Channel)?
        var pending: [ByteBuffer] = []
        var clientFinished = false
        var finished = false
        var errorMessage: String?
    }

    let options: PortForwardOptions
    let runtime: any StreamingRuntime
    let logger: Logger
    private let headers: SPDYHeaderCodec
    private var context: ChannelHandlerContext?
    private var requests: [String: Request] = [:]
    private var streamRequest: [UInt32: String] = [:]
    private var closed = false

    init(options: PortForwardOptions, runtime: any StreamingRuntime, logger: Logger) throws {
        self.options = options
        self.runtime = runtime
        self.logger = logger
        headers = try SPDYHeaderCodec()
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            switch unwrapInboundIn(data) {
            case .control(let type, let flags, var payload):
                try control(type, flags: flags, payload: &payload, context: context)
            case .data(let streamID, let flags, let payload):
                dataFrame(streamID, flags: flags, payload: payload)
            }
        } catch {
            logger.warning("SPDY port forward to \(options.sandboxID): \(error)")
            context.close(promise: nil)
        }
    }

    private func control(_ type: UInt16, flags: UInt8, payload: inout ByteBuffer, context: ChannelHandlerContext) throws {
        switch type {
        case SPDYFrame.ControlType.synStream:
            guard let id = payload.readInteger(as: UInt32.self).map({ $0 & 0x7FFF_FFFF }), payload.readInteger(as: UInt32.self) != nil,
                  payload.readInteger(as: UInt16.self) != nil else { throw SPDYProtocolError("short SYN_STREAM") }
            try newStream(id, headers: headers.decode(payload), fin: flags & SPDYFrame.flagFin != 0)
        case SPDYFrame.ControlType.headers:
            // Decoded only to keep the header decompressor in step.
            guard payload.readInteger(as: UInt32.self) != nil else { throw SPDYProtocolError("short HEADERS") }
            _ = try headers.decode(payload)
        case SPDYFrame.ControlType.rstStream:
            if let id = payload.readInteger(as: UInt32.self), let key = streamRequest[id & 0x7FFF_FFFF] {
                requests[key]?.connection?.close(promise: nil)
            }
        case SPDYFrame.ControlType.ping:
            // Echoed unchanged, as the protocol asks.
            var out = context.channel.allocator.buffer(capacity: 12)
            SPDYFrame.writeControl(type, flags: flags, payload: payload, into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        case SPDYFrame.ControlType.goAway:
            context.close(promise: nil)
        default:
            break  // SETTINGS, WINDOW_UPDATE: spdystream does no flow control either.
        }
    }

    private func newStream(_ id: UInt32, headers h: [String: [String]], fin: Bool) throws {
        let type = h["streamtype"]?.first ?? ""
        guard type == "data" || type == "error" else { throw SPDYProtocolError("stream \(id): unknown streamtype \"\(type)\"") }
        // Without a request id, the error stream precedes its data stream (ids n and n+2).
        let key = h["requestid"]?.first ?? String(type == "error" ? id + 2 : id)
        streamRequest[id] = key
        var request = requests[key] ?? Request()
        let reply = try self.headers.encode([])
        var replyPayload = ByteBuffer()
        replyPayload.writeInteger(id)
        var block = reply
        replyPayload.writeBuffer(&block)
        send { SPDYFrame.writeControl(SPDYFrame.ControlType.synReply, flags: 0, payload: replyPayload, into: &$0) }
        if type == "error" {
            request.errorStream = id
            requests[key] = request
            if request.finished { finishError(key) }
            return
        }
        guard let portText = h["port"]?.first, let port = UInt16(portText), port > 0 else {
            request.dataStream = id
            request.errorMessage = "invalid port \"\(h["port"]?.first ?? "")\""
            requests[key] = request
            finish(key)
            return
        }
        request.dataStream = id
        request.port = port
        request.clientFinished = fin
        requests[key] = request
        connect(key, port: port)
    }

    private func connect(_ key: String, port: UInt16) {
        guard let context else { return }
        let runtime = self.runtime, sandbox = options.sandboxID, loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        PodPortDialer.dial(runtime, sandboxID: sandbox, port: port, on: loop) {
            PodSocketRelay(key: key, owner: bound)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                guard !self.closed, var request = self.requests[key] else {
                    channel.close(promise: nil)
                    return
                }
                request.connection = channel
                for buffer in request.pending { channel.write(buffer, promise: nil) }
                request.pending = []
                channel.flush()
                if request.clientFinished { channel.close(mode: .output, promise: nil) }
                self.requests[key] = request
            case .failure(let error):
                self.requests[key]?.errorMessage = "error forwarding port \(port) to pod sandbox \(sandbox): \(error)"
                self.finish(key)
            }
        }
    }

    private func dataFrame(_ id: UInt32, flags: UInt8, payload: ByteBuffer) {
        guard let key = streamRequest[id], var request = requests[key], request.dataStream == id else { return }
        if payload.readableBytes > 0 {
            if let connection = request.connection { connection.writeAndFlush(payload, promise: nil) } else { request.pending.append(payload) }
        }
        if flags & SPDYFrame.flagFin != 0 {
            request.clientFinished = true
            request.connection?.close(mode: .output, promise: nil)
        }
        requests[key] = request
    }

    /// Bytes from the pod, as data frames on the request's data stream.
    func fromPod(_ key: String, _ bytes: ByteBuffer) {
        guard let id = requests[key]?.dataStream else { return }
        var rest = bytes
        while rest.readableBytes > 0, let slice = rest.readSlice(length: min(rest.readableBytes, 1 << 16)) {
            send { SPDYFrame.writeData(streamID: id, flags: 0, payload: slice, into: &$0) }
        }
    }

    /// The pod side closed (or never opened): FIN on the data stream, the error (if any) and
    /// FIN on the error stream.
    func finish(_ key: String) {
        guard var request = requests[key], !request.finished else { return }
        request.finished = true
        requests[key] = request
        if let id = request.dataStream { send { SPDYFrame.writeData(streamID: id, flags: SPDYFrame.flagFin, payload: ByteBuffer(), into: &$0) } }
        if request.errorStream != nil { finishError(key) }
    }

    private func finishError(_ key: String) {
        guard let request = requests[key], let id = request.errorStream else { return }
        if let message = request.errorMessage {
            send { SPDYFrame.writeData(streamID: id, flags: 0, payload: ByteBuffer(string: message), into: &$0) }
        }
        send { SPDYFrame.writeData(streamID: id, flags: SPDYFrame.flagFin, payload: ByteBuffer(), into: &$0) }
        if let data = request.dataStream { streamRequest[data] = nil }
        streamRequest[id] = nil
        requests[key] = nil
    }

    private func send(_ body: (inout ByteBuffer) -> Void) {
        guard let context, !closed else { return }
        var out = context.channel.allocator.buffer(capacity: 64)
        body(&out)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        for request in requests.values { request.connection?.close(promise: nil) }
        requests.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("SPDY port forward connection error: \(error)")
        context.close(promise: nil)
    }
}

extension SPDYPortForwardHandler: PodConnectionOwner {
    func podConnectionEnded(_ key: String) { finish(key) }
}
