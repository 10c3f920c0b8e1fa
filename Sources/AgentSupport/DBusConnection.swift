import Glibc
import LinuxPrimitives
import Synchronization

/// A minimal D-Bus client connection (we may not link libdbus or libsystemd): a unix stream
/// socket, SASL EXTERNAL authentication with descriptor passing negotiated, `Hello`, method calls
/// with replies, and signal subscriptions. One dedicated thread reads the socket and hands
/// replies and signals to the tasks waiting for them; sends happen on the caller's thread.
/// Call `close()` when done: the reader thread holds the connection until then.
public final class DBusConnection: Sendable {
    let socket: UnixStreamSocket
    private let state = Mutex(State())
    private let sendLock = Mutex(())

    struct Subscriber {
        let rule: DBusMatchRule
        let deliver: @Sendable (DBusMessage) -> Void
        let finish: @Sendable () -> Void
    }

    struct State {
        var nextSerial: UInt32 = 1
        var pending: [UInt32: CheckedContinuation<DBusMessage, any Error>] = [:]
        var cancelled: Set<UInt32> = []
        var subscribers: [UInt64: Subscriber] = [:]
        var nextSubscriber: UInt64 = 1
        var closedReason: DBusError?
        var uniqueName = ""
        var serverGUID = ""
        /// Cleared (under the lock) when the reader thread closes the socket, so a later close()
        /// never shuts down a descriptor number that has been reused.
        var socketOpen = true
    }

    /// The name the bus gave us in reply to Hello (`:1.42`).
    public var uniqueName: String { state.withLock { $0.uniqueName } }
    /// The bus's GUID from authentication.
    public var serverGUID: String { state.withLock { $0.serverGUID } }

    private init(socket: UnixStreamSocket) { self.socket = socket }

    /// The system bus: `$DBUS_SYSTEM_BUS_ADDRESS`, else `/run/dbus/system_bus_socket`.
    public static func systemBus() async throws -> DBusConnection {
        try await connect(address: ProcessEnvironment.value("DBUS_SYSTEM_BUS_ADDRESS") ?? "unix:path=/run/dbus/system_bus_socket")
    }

    /// Connects to a bus address (`unix:path=...` or `unix:abstract=...`; the first usable of a
    /// `;`-separated list), authenticates as our effective uid, and says Hello.
    public static func connect(address: String) async throws -> DBusConnection {
        let socketAddress = try DBusAddress.parse(address)
        let socket = try UnixStreamSocket.connect(socketAddress)
        let connection = DBusConnection(socket: socket)
        do {
            let guid: String = try await withCheckedThrowingContinuation { started in
                do {
                    try DetachedThread.start { connection.readerThread(started: started) }
                } catch {
                    started.resume(throwing: error)
                }
            }
            connection.state.withLock { $0.serverGUID = guid }
            let hello = try await connection.call(.methodCall(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus", member: "Hello"))
            guard let name = hello.body.first?.stringValue else { throw DBusError.protocolError("Hello reply without a name") }
            connection.state.withLock { $0.uniqueName = name }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Calls a method and waits for its reply; an error reply throws `DBusError.remote`.
    /// Descriptors in the reply belong to the caller.
    public func call(_ message: DBusMessage, timeout: Duration = .seconds(25)) async throws -> DBusMessage {
        let serial = state.withLock { s -> UInt32 in
            defer { s.nextSerial = s.nextSerial &+ 1 == 0 ? 1 : s.nextSerial &+ 1 }
            return s.nextSerial
        }
        let reply = try await withThrowingTaskGroup(of: DBusMessage.self) { group in
            group.addTask { try await self.sendAndAwaitReply(message, serial: serial) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DBusError.timedOut("\(message.interface ?? "").\(message.member ?? "") after \(timeout)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw DBusError.disconnected("no reply") }
            return first
        }
        if reply.kind == .error {
            reply.closeDescriptors()
            throw DBusError.remote(name: reply.errorName ?? "", message: reply.body.first?.stringValue ?? "")
        }
        return reply
    }

    private func sendAndAwaitReply(_ message: DBusMessage, serial: UInt32) async throws -> DBusMessage {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<DBusMessage, any Error>) in
                let refusal: (any Error)? = state.withLock { s in
                    if let reason = s.closedReason { return reason }
                    if s.cancelled.remove(serial) != nil { return CancellationError() }
                    s.pending[serial] = continuation
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal); return }
                do {
                    try send(message, serial: serial)
                } catch {
                    if let waiting = state.withLock({ $0.pending.removeValue(forKey: serial) }) { waiting.resume(throwing: error) }
                }
            }
        } onCancel: {
            let waiting = state.withLock { s -> CheckedContinuation<DBusMessage, any Error>? in
                if let w = s.pending.removeValue(forKey: serial) { return w }
                s.cancelled.insert(serial)
                return nil
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    /// Sends a message that expects no reply (a signal, or a call flagged noReplyExpected);
    /// returns its serial.
    @discardableResult
    public func send(_ message: DBusMessage) throws -> UInt32 {
        let serial = state.withLock { s -> UInt32 in
            defer { s.nextSerial = s.nextSerial &+ 1 == 0 ? 1 : s.nextSerial &+ 1 }
            return s.nextSerial
        }
        try send(message, serial: serial)
        return serial
    }

    private func send(_ message: DBusMessage, serial: UInt32) throws {
        if let reason = state.withLock({ $0.closedReason }) { throw reason }
        let bytes = try message.encoded(serial: serial)
        try sendLock.withLock { _ in try socket.send(bytes, fds: message.fds) }
    }

    /// Subscribes to signals: registers `rule` with the bus (AddMatch) and yields every matching
    /// signal until the stream is dropped (then RemoveMatch). Subscribe before the action that
    /// makes the signal, so none is missed. Descriptors in a yielded signal belong to the reader.
    public func signals(matching rule: DBusMatchRule) async throws -> AsyncStream<DBusMessage> {
        let (stream, continuation) = AsyncStream<DBusMessage>.makeStream(bufferingPolicy: .unbounded)
        let id = try await subscribe(matching: rule, deliver: { continuation.yield($0) }, finish: { continuation.finish() })
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return stream
    }

    /// The callback form of `signals(matching:)`: `deliver` runs on the reader thread for each
    /// matching signal (keep it short), `finish` once when the connection ends. Returns the id
    /// for `unsubscribe`.
    public func subscribe(matching rule: DBusMatchRule, deliver: @escaping @Sendable (DBusMessage) -> Void,
                          finish: @escaping @Sendable () -> Void) async throws -> UInt64 {
        let id = state.withLock { s -> UInt64 in
            let id = s.nextSubscriber
            s.nextSubscriber += 1
            s.subscribers[id] = Subscriber(rule: rule, deliver: deliver, finish: finish)
            return id
        }
        do {
            _ = try await call(.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                           interface: "org.freedesktop.DBus", member: "AddMatch", body: [.string(rule.text)]))
        } catch {
            if let removed = state.withLock({ $0.subscribers.removeValue(forKey: id) }) { removed.finish() }
            throw error
        }
        return id
    }

    /// Ends a subscription (RemoveMatch, without waiting for the bus's answer).
    public func unsubscribe(_ id: UInt64) {
        guard let removed = state.withLock({ $0.subscribers.removeValue(forKey: id) }) else { return }
        removed.finish()
        guard state.withLock({ $0.closedReason == nil }) else { return }
        var remove = DBusMessage.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                            interface: "org.freedesktop.DBus", member: "RemoveMatch", body: [.string(removed.rule.text)])
        remove.flags.insert(.noReplyExpected)
        _ = try? send(remove)
    }

    /// Closes the connection: pending calls fail, signal streams end, the reader thread exits
    /// and closes the socket. Idempotent.
    public func close() {
        state.withLock { s in
            if s.closedReason == nil { s.closedReason = .disconnected("closed by us") }
            if s.socketOpen { socket.shutdown() }
        }
    }

    // MARK: - The reader thread

    private func readerThread(started: CheckedContinuation<String, any Error>) {
        var buffer: [UInt8] = []
        var queuedFDs: [Int32] = []
        var failure: DBusError
        do {
            let guid = try DBusAuthentication.authenticate(socket, leftover: &buffer)
            started.resume(returning: guid)
        } catch {
            started.resume(throwing: error)
            finish(.authenticationFailed("\(error)"), queuedFDs: [])
            return
        }
        while true {
            do {
                while let length = try DBusMessage.frameLength(buffer[...]), buffer.count >= length {
                    let frame = Array(buffer[0..<length])
                    buffer.removeFirst(length)
                    let message = try DBusMessage.decode(frame, fds: queuedFDs)
                    queuedFDs.removeFirst(message.fds.count)
                    dispatch(message)
                }
                let (bytes, fds) = try socket.receive()
                if bytes.isEmpty && fds.isEmpty {
                    failure = .disconnected("the bus closed the connection")
                    break
                }
                buffer.append(contentsOf: bytes)
                queuedFDs.append(contentsOf: fds)
            } catch let error as DBusError {
                failure = error
                break
            } catch {
                failure = .disconnected("\(error)")
                break
            }
        }
        finish(failure, queuedFDs: queuedFDs)
    }

    private func finish(_ reason: DBusError, queuedFDs: [Int32]) {
        for fd in queuedFDs { FileDescriptor(rawValue: fd).close() }
        let (pending, subscribers) = state.withLock { s in
            if s.closedReason == nil { s.closedReason = reason }
            defer { s.pending = [:]; s.subscribers = [:] }
            return (Array(s.pending.values), Array(s.subscribers.values))
        }
        state.withLock { s in
            s.socketOpen = false
            socket.close()
        }
        for waiting in pending { waiting.resume(throwing: reason) }
        for subscriber in subscribers { subscriber.finish() }
    }

    private func dispatch(_ message: DBusMessage) {
        switch message.kind {
        case .methodReturn, .error:
            let waiting = message.replySerial.flatMap { serial in state.withLock { $0.pending.removeValue(forKey: serial) } }
            if let waiting { waiting.resume(returning: message) } else { message.closeDescriptors() }
        case .signal:
            let matching = state.withLock { s in s.subscribers.values.filter { $0.rule.matches(message) } }
            guard !matching.isEmpty else { message.closeDescriptors(); return }
            for (index, subscriber) in matching.enumerated() {
                var copy = message
                // Every subscriber owns its descriptors: the first gets the originals, others dups.
                if index > 0 { copy.fds = message.fds.compactMap { try? FileDescriptor(rawValue: $0).duplicate().rawValue } }
                subscriber.deliver(copy)
            }
        case .methodCall:
            message.closeDescriptors()
            answer(message)
        }
    }

    /// We export no objects: Peer.Ping is answered, every other call gets UnknownMethod.
    private func answer(_ call: DBusMessage) {
        guard !call.flags.contains(.noReplyExpected), let sender = call.sender else { return }
        var reply: DBusMessage
        if call.interface == "org.freedesktop.DBus.Peer", call.member == "Ping" {
            reply = DBusMessage(kind: .methodReturn)
        } else {
            reply = DBusMessage(kind: .error)
            reply.errorName = "org.freedesktop.DBus.Error.UnknownMethod"
            reply.body = [.string("swiftlet exports no \(call.interface ?? "").\(call.member ?? "")")]
        }
        reply.replySerial = call.serial
        reply.destination = sender
        _ = try? send(reply)
    }
}

/// A match rule: which signals a subscription wants. The bus filters by all fields; locally a
/// signal is matched by path, interface and member, and by sender when the rule names a
/// unique name (a well-known sender name is enforced by the bus's routing).
public struct DBusMatchRule: Sendable, Hashable {
    public var sender: String?
    public var path: String?
    public var interface: String?
    public var member: String?

    public init(sender: String? = nil, path: String? = nil, interface: String? = nil, member: String? = nil) {
        self.sender = sender
        self.path = path
        self.interface = interface
        self.member = member
    }

    /// The rule as AddMatch takes it: `type='signal',sender='...',...`.
    public var text: String {
        var parts = ["type='signal'"]
        for (key, value) in [("sender", sender), ("path", path), ("interface", interface), ("member", member)] {
            if let value { parts.append("\(key)='\(value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''"))'") }
        }
        return parts.joined(separator: ",")
    }

    public func matches(_ message: DBusMessage) -> Bool {
        guard message.kind == .signal else { return false }
        if let path, message.path != path { return false }
        if let interface, message.interface != interface { return false }
        if let member, message.member != member { return false }
        if let sender, sender.hasPrefix(":"), message.sender != sender { return false }
        return true
    }
}
