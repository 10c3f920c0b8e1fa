import NIOCore

/// Stream numbers as the Kubernetes channel protocols number them: for exec and attach the
/// POSIX descriptors plus the error and resize streams; for port forwarding `2i` and `2i+1`
/// are the data and error streams of the i-th port.
enum RemoteStream {
    static let stdin: UInt8 = 0
    static let stdout: UInt8 = 1
    static let stderr: UInt8 = 2
    static let error: UInt8 = 3
    static let resize: UInt8 = 4
}

/// How a session reports the end of a remote command on the error stream: v4 and later send a
/// JSON `metav1.Status` always; earlier versions send an error text, and nothing on success.
enum StatusFormat: Sendable {
    case json
    case text
}

/// The connection side of a session (WebSocket channels or SPDY streams). Event-loop bound:
/// every call happens on `eventLoop`.
protocol StreamTransport: AnyObject {
    var eventLoop: any EventLoop { get }
    var allocator: ByteBufferAllocator { get }
    func send(_ stream: UInt8, _ bytes: ByteBuffer)
    /// Half-closes one stream (v5 CLOSE signal, SPDY FIN); a no-op where the protocol has none.
    func closeStream(_ stream: UInt8)
    /// Ends the connection after what was sent is flushed.
    func finish()
}

/// What runs over a transport: an exec, an attach or a port forward. Event-loop bound.
protocol StreamSession: AnyObject {
    func start(transport: any StreamTransport)
    func received(_ stream: UInt8, _ bytes: ByteBuffer)
    /// The client half-closed `stream` (it sends no more on it).
    func remoteClosed(_ stream: UInt8)
    /// The connection is gone; release everything.
    func transportClosed()
}
