import Glibc
import NIOCore
import NIOPosix

/// One connection to a port inside a pod, for port-forward over either transport (WebSocket
/// channels or SPDY streams): the runtime connects inside the pod's network namespace and
/// hands back the socket, which becomes a NIO channel on `loop` with `relay` as its handler.
enum PodPortDialer {
    static func dial(_ runtime: any StreamingRuntime, sandboxID: String, port: UInt16, on loop: any EventLoop,
                     relay: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel> {
        loop.makeFutureWithTask {
            try await runtime.connect(sandboxID: sandboxID, port: port)
        }.flatMap { fd -> EventLoopFuture<any Channel> in
            ClientBootstrap(group: loop)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(relay())
                    }
                }
                .withConnectedSocket(fd)
                .flatMapErrorThrowing { error in
                    close(fd)
                    throw error
                }
        }
    }
}
