import NIOCore
import NIOHTTP1
import Synchronization

/// Coalesces writes bound for channels of one event loop: however many watchers an event
/// goes to, the publishing thread hands the loop one task, and the loop writes and flushes
/// them all. Every write of a watcher goes through its loop's batcher, so order is kept.
final class LoopBatcher: Sendable {
    let loop: EventLoop
    private let pending = Mutex<(items: [(Channel, ByteBuffer)], scheduled: Bool)>(([], false))

    init(loop: EventLoop) { self.loop = loop }

    /// `buf` must already be chunk-framed (`ChunkFraming`).
    func send(_ buf: ByteBuffer, on channel: Channel) {
        let schedule = pending.withLock { p -> Bool in
            p.items.append((channel, buf))
            if p.scheduled { return false }
            p.scheduled = true
            return true
        }
        if schedule { loop.execute { self.drain() } }
    }

    private func drain() {
        let items = pending.withLock { p -> [(Channel, ByteBuffer)] in
            defer {
                p.items = []
                p.scheduled = false
            }
            return p.items
        }
        var touched: [ObjectIdentifier: Channel] = [:]
        for (c, b) in items {
            c.write(b, promise: nil)
            touched[ObjectIdentifier(c)] = c
        }
        for (_, c) in touched { c.flush() }
    }
}

/// One batcher per event loop, created on first use.
final class LoopBatchers: Sendable {
    private let batchers = Mutex<[ObjectIdentifier: LoopBatcher]>([:])

    func batcher(for loop: EventLoop) -> LoopBatcher {
        batchers.withLock { m in
            let k = ObjectIdentifier(loop)
            if let b = m[k] { return b }
            let b = LoopBatcher(loop: loop)
            m[k] = b
            return b
        }
    }
}
