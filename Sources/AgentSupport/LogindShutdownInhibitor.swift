import LinuxPrimitives
import Synchronization

/// Graceful node shutdown the way kubelet does it: hold a logind *delay* inhibitor lock for
/// "shutdown", so that when someone runs `systemctl poweroff` logind first broadcasts
/// `PrepareForShutdown(true)` and then waits (up to its InhibitDelayMaxSec) until we release
/// the lock: time to stop pods with their grace periods before the host goes down.
///
///     let inhibitor = try await LogindShutdownInhibitor.acquire(bus: bus)
///     for await event in inhibitor.events {
///         if case .shutdownStarting(let grace) = event {
///             await stopPods(within: grace)
///             inhibitor.release()          // logind proceeds with the shutdown now
///         }
///     }
public final class LogindShutdownInhibitor: Sendable {
    public enum Event: Sendable, Equatable {
        /// A shutdown is coming; logind goes ahead after `grace` (its InhibitDelayMaxUSec) even
        /// if the lock is still held.
        case shutdownStarting(grace: Duration)
        /// A shutdown announced before was cancelled (`PrepareForShutdown(false)`): take the lock
        /// again with `reacquire()` to be told about the next one.
        case shutdownCancelled
    }

    /// One row of logind's ListInhibitors.
    public struct Inhibitor: Sendable, Equatable {
        public let what, who, why, mode: String
        public let uid, pid: UInt32
    }

    public static let destination = "org.freedesktop.login1"
    public static let path = "/org/freedesktop/login1"
    public static let interface = "org.freedesktop.login1.Manager"

    public let bus: DBusConnection
    public let who: String
    public let why: String
    /// How long logind waits for delay locks, read when the lock was taken.
    public let inhibitDelayMax: Duration
    /// PrepareForShutdown signals as events; ends when the bus connection ends or on `close()`.
    public let events: AsyncStream<Event>
    private let lockFD = Mutex<Int32?>(nil)
    private let subscription: UInt64

    private init(bus: DBusConnection, who: String, why: String, delay: Duration,
                 events: AsyncStream<Event>, subscription: UInt64) {
        self.bus = bus
        self.who = who
        self.why = why
        self.inhibitDelayMax = delay
        self.events = events
        self.subscription = subscription
    }

    /// Subscribes to PrepareForShutdown first (so no announcement slips between), then takes the
    /// delay lock. `bus` is the system bus; it stays the caller's to close.
    public static func acquire(bus: DBusConnection, who: String = "swiftlet",
                               why: String = "graceful pod shutdown") async throws -> LogindShutdownInhibitor {
        let delay = try await inhibitDelayMax(bus: bus)
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let rule = DBusMatchRule(sender: destination, path: path, interface: interface, member: "PrepareForShutdown")
        let subscription = try await bus.subscribe(matching: rule, deliver: { message in
            message.closeDescriptors()
            guard let starting = message.body.first?.boolValue else { return }
            continuation.yield(starting ? .shutdownStarting(grace: delay) : .shutdownCancelled)
        }, finish: { continuation.finish() })
        let inhibitor = LogindShutdownInhibitor(bus: bus, who: who, why: why, delay: delay,
                                                events: events, subscription: subscription)
        do {
            try await inhibitor.reacquire()
        } catch {
            bus.unsubscribe(subscription)
            throw error
        }
        return inhibitor
    }

    /// Whether we hold the delay lock now.
    public var isHeld: Bool { lockFD.withLock { $0 != nil } }

    /// Takes the delay lock (again); a no-op while it is held.
    public func reacquire() async throws {
        if isHeld { return }
        let reply = try await bus.call(.methodCall(
            destination: Self.destination, path: Self.path, interface: Self.interface, member: "Inhibit",
            body: [.string("shutdown"), .string(who), .string(why), .string("delay")]))
        guard case .unixFD(let index)? = reply.body.first, Int(index) < reply.fds.count else {
            reply.closeDescriptors()
            throw DBusError.protocolError("Inhibit replied \(reply.signature) without a descriptor")
        }
        let fd = reply.fds[Int(index)]
        for (i, other) in reply.fds.enumerated() where i != Int(index) { FileDescriptor(rawValue: other).close() }
        let previous = lockFD.withLock { held -> Int32? in
            defer { held = fd }
            return held
        }
        if let previous { FileDescriptor(rawValue: previous).close() }
    }

    /// Releases the lock (closes its descriptor): after PrepareForShutdown(true), logind goes on
    /// with the shutdown at once. Idempotent.
    public func release() {
        let fd = lockFD.withLock { held -> Int32? in
            defer { held = nil }
            return held
        }
        if let fd { FileDescriptor(rawValue: fd).close() }
    }

    /// Releases the lock and ends `events`.
    public func close() {
        release()
        bus.unsubscribe(subscription)
    }

    /// logind's InhibitDelayMaxUSec: the longest a delay lock can hold a shutdown back.
    public static func inhibitDelayMax(bus: DBusConnection) async throws -> Duration {
        let reply = try await bus.call(.methodCall(
            destination: destination, path: path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            body: [.string(interface), .string("InhibitDelayMaxUSec")]))
        guard let usec = reply.body.first?.uint64Value else {
            throw DBusError.protocolError("InhibitDelayMaxUSec is \(reply.signature), not a number")
        }
        return .microseconds(Int64(clamping: usec))
    }

    /// logind's current inhibitor locks (all of them, not only ours).
    public static func inhibitors(bus: DBusConnection) async throws -> [Inhibitor] {
        let reply = try await bus.call(.methodCall(destination: destination, path: path, interface: interface,
                                                   member: "ListInhibitors"))
        guard let rows = reply.body.first?.arrayValue else { throw DBusError.protocolError("ListInhibitors replied \(reply.signature)") }
        return rows.compactMap { row in
            guard let f = row.structureValue, f.count == 6,
                  let what = f[0].stringValue, let who = f[1].stringValue, let why = f[2].stringValue,
                  let mode = f[3].stringValue, let uid = f[4].uint64Value, let pid = f[5].uint64Value else { return nil }
            return Inhibitor(what: what, who: who, why: why, mode: mode, uid: UInt32(truncatingIfNeeded: uid),
                             pid: UInt32(truncatingIfNeeded: pid))
        }
    }

    /// Makes logind wait up to `delay` for delay locks, as kubelet does when its shutdown grace
    /// period is longer than logind's default 5 s: a drop-in with `InhibitDelayMaxSec=`, then
    /// SIGHUP to systemd-logind (through systemd's KillUnit) so it rereads its configuration.
    public static func raiseInhibitDelayMax(to delay: Duration, bus: DBusConnection,
                                            dropInDirectory: String = "/etc/systemd/logind.conf.d") async throws {
        let seconds = delay.components.seconds + (delay.components.attoseconds > 0 ? 1 : 0)
        try FileSystem.createDirectory(dropInDirectory)
        try FileSystem.writeAtomically(dropInDirectory + "/99-swiftlet.conf",
                                       "# Written by swiftlet: time for graceful pod shutdown.\n[Login]\nInhibitDelayMaxSec=\(seconds)\n")
        _ = try await bus.call(.methodCall(
            destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager", member: "KillUnit",
            body: [.string("systemd-logind.service"), .string("main"), .int32(1 /* SIGHUP */)]))
    }
}
