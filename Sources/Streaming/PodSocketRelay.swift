import NIOCore

/// What a forwarded pod connection reports to: the session of either transport (WebSocket
/// channels keyed by port index, SPDY streams keyed by request id).
protocol PodConnectionOwner: AnyObject {
    associatedtype Key
    func fromPod(_ key: Key, _ buffer: ByteBuffer)
    func podConnectionEnded(_ key: Key)
}

/// One forwarded TCP connection into a pod: what the pod sends goes to the owner, and the
/// owner hears once that the pod side ended (input closed, or the connection went away).
final class PodSocketRelay<Owner: PodConnectionOwner>: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let key: Owner.Key
    let owner: NIOLoopBound<Owner>
    private var ended = false

    init(key: Owner.Key, owner: NIOLoopBound<Owner>) {
        self.key = key
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.value.fromPod(key, unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { end(context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(context)
        context.fireChannelInactive()
    }

    private func end(_ context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        owner.value.podConnectionEnded(key)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
