import Glibc
import NIOCore
import NIOPosix

/// Port forwarding over the WebSocket protocol: the ports are fixed by the request; for the
/// i-th port, stream `2i` carries data both ways and `2i+1` errors. Each stream first carries
/// the port number (little-endian UInt16), as kubelet sends it. One TCP connection per port;
/// the session ends when every connection has closed.
final class PortForwardSession: StreamSession {
    let options: PortForwardOptions
    let runtime: any StreamingRuntime
    private var transport: (any StreamTransport)?
    private var connections: [Int: any Channel] = [:]
    private var pending: [Int: [ByteBuffer]] = [:]
    private var open = 0
    private var ended: Set<Int> = []
    private var finished = false

    init(options: PortForwardOptions, runtime: any StreamingRuntime) {
        self.options = options
        self.runtime = runtime
    }

    func start(transport: any StreamTransport) {
        self.transport = transport
        guard !options.ports.isEmpty else {
            finish()
            return
        }
        for (index, port) in options.ports.enumerated() {
            var portBytes = transport.allocator.buffer(capacity: 2)
            portBytes.writeInteger(port, endianness: .little)
            transport.send(UInt8(index * 2), portBytes)
            transport.send(UInt8(index * 2 + 1), portBytes)
            open += 1
            connect(index: index, port: port, loop: transport.eventLoop)
        }
    }

    private func connect(index: Int, port: UInt16, loop: any EventLoop) {
        let runtime = self.runtime
        let sandbox = options.sandboxID
        let bound = NIOLoopBound(self, eventLoop: loop)
        PodPortDialer.dial(runtime, sandboxID: sandbox, port: port, on: loop) {
            PodSocketRelay(key: index, owner: bound)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                if self.finished {
                    channel.close(promise: nil)
                    return
                }
                self.connections[index] = channel
                for buffer in self.pending.removeValue(forKey: index) ?? [] { channel.write(buffer, promise: nil) }
                channel.flush()
            case .failure(let error):
                let message = "error forwarding port \(port) to pod sandbox \(sandbox): \(error)"
                self.transport?.send(UInt8(index * 2 + 1), self.transport?.allocator.buffer(string: message) ?? ByteBuffer())
                self.connectionEnded(index)
            }
        }
    }

    func fromPod(_ index: Int, _ buffer: ByteBuffer) {
        transport?.send(UInt8(index * 2), buffer)
    }

    func connectionEnded(_ index: Int) {
        guard ended.insert(index).inserted else { return }
        connections[index] = nil
        open -= 1
        if open <= 0 { finish() }
    }

    func received(_ stream: UInt8, _ bytes: ByteBuffer) {
        guard stream % 2 == 0 else { return }
        let index = Int(stream / 2)
        guard index < options.ports.count else { return }
        if let channel = connections[index] { channel.writeAndFlush(bytes, promise: nil) } else { pending[index, default: []].append(bytes) }
    }

    func remoteClosed(_ stream: UInt8) {
        guard stream % 2 == 0, let channel = connections[Int(stream / 2)] else { return }
        channel.close(mode: .output, promise: nil)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        transport?.finish()
    }

    func transportClosed() {
        finished = true
        for channel in connections.values { channel.close(promise: nil) }
        connections.removeAll()
    }
}

extension PortForwardSession: PodConnectionOwner {
    func podConnectionEnded(_ index: Int) { connectionEnded(index) }
}
