import Foundation
import Glibc
import LinuxPrimitives
import ShimProtocol
import Synchronization

/// One thread that holds an `events` subscription to every shim and reports container exits
/// (and shims that went away) as they happen, so the agent reacts in microseconds instead of
/// at its next relist. Registration wakes the thread through an eventfd.
final class ShimEventMonitor: Sendable {
    enum Event: Sendable {
        case exited(sandboxID: String, containerID: String)
        case shimGone(sandboxID: String)
    }

    private struct Registry: ~Copyable {
        var pending: [(sandboxID: String, socket: UnixSocket)] = []
        var removed: Set<String> = []
    }

    private let registry = Mutex(Registry())
    private let wake: EventFD
    private let handler: @Sendable (Event) -> Void

    init(handler: @escaping @Sendable (Event) -> Void) throws {
        wake = try EventFD()
        self.handler = handler
        let thread = Thread { [self] in self.loop() }
        thread.start()
    }

    /// Subscribes to a shim's events; call again after a shim restart.
    func watch(sandboxID: String, sandboxDir: String) throws {
        let socket = try UnixSocket.connect(path: ShimProtocol.Paths.socket(sandboxDir))
        do {
            let reply = try socket.call(ShimProtocol.request(.events))
            if let error = reply.string("error") { throw ShimClient.ShimError(message: error) }
        } catch {
            socket.close()
            throw error
        }
        registry.withLock {
            $0.removed.remove(sandboxID)
            $0.pending.append((sandboxID, socket))
        }
        wake.signal()
    }

    func unwatch(sandboxID: String) {
        registry.withLock { _ = $0.removed.insert(sandboxID) }
        wake.signal()
    }

    private func loop() {
        var watched: [Int32: (sandboxID: String, socket: UnixSocket)] = [:]
        while true {
            var fds = [pollfd(fd: wake.fd.rawValue, events: Int16(POLLIN), revents: 0)]
            for fd in watched.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            if fds[0].revents != 0 {
                wake.drain()
                let (added, removed) = registry.withLock { r -> ([(sandboxID: String, socket: UnixSocket)], Set<String>) in
                    defer {
                        r.pending.removeAll()
                        r.removed.removeAll()
                    }
                    return (r.pending, r.removed)
                }
                for entry in added { watched[entry.socket.fd.rawValue] = entry }
                for (fd, entry) in watched where removed.contains(entry.sandboxID) && !added.contains(where: { $0.socket.fd == entry.socket.fd }) {
                    entry.socket.close()
                    watched.removeValue(forKey: fd)
                }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                guard let w = watched[entry.fd] else { continue }
                let message = try? w.socket.receiveRecords()
                if let (records, extra) = message ?? nil {
                    for f in extra { close(f) }
                    if records.string("event") == "exit", let id = records.string("id") {
                        handler(.exited(sandboxID: w.sandboxID, containerID: id))
                    }
                } else {
                    w.socket.close()
                    watched.removeValue(forKey: entry.fd)
                    handler(.shimGone(sandboxID: w.sandboxID))
                }
            }
        }
    }
}
