import Foundation
import LinuxPrimitives
import Testing
@testable import AgentSupport

/// Our D-Bus client against the real dbus-daemon (a private bus the test starts): the daemon
/// checks every message strictly and disconnects a client that sends a malformed one.
@Suite(.enabled(if: DBusDaemonFixture.binary != nil, "dbus-daemon missing (apt install dbus-daemon)"))
struct DBusDaemonTests {
    @Test func helloGivesEachConnectionAUniqueNameAndTheBusAnswersCalls() async throws {
        let bus = try DBusDaemonFixture()
        defer { bus.stop() }
        let a = try await DBusConnection.connect(address: bus.address)
        defer { a.close() }
        let b = try await DBusConnection.connect(address: bus.address)
        defer { b.close() }
        #expect(a.uniqueName.hasPrefix(":1."))
        #expect(b.uniqueName.hasPrefix(":1."))
        #expect(a.uniqueName != b.uniqueName)
        let id = try await a.call(.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                              interface: "org.freedesktop.DBus", member: "GetId"))
        let hex = #/[0-9a-f]{32}/#
        #expect((id.body.first?.stringValue ?? "").wholeMatch(of: hex) != nil, "GetId: \(id.body)")
        #expect(a.serverGUID.wholeMatch(of: hex) != nil, "GUID from the OK line: \(a.serverGUID)")
        let names = try await a.call(.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                                 interface: "org.freedesktop.DBus", member: "ListNames"))
        let list = (names.body.first?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(Set(list).isSuperset(of: ["org.freedesktop.DBus", a.uniqueName, b.uniqueName]))
    }

    @Test func errorRepliesKeepTheirName() async throws {
        let bus = try DBusDaemonFixture()
        defer { bus.stop() }
        let a = try await DBusConnection.connect(address: bus.address)
        defer { a.close() }
        await #expect(throws: DBusError.remote(name: "org.freedesktop.DBus.Error.NameHasNoOwner",
                                               message: "Could not get owner of name 'org.swiftlet.Nobody': no such name")) {
            _ = try await a.call(.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                             interface: "org.freedesktop.DBus", member: "GetNameOwner",
                                             body: [.string("org.swiftlet.Nobody")]))
        }
    }

    @Test func signalsCarryDescriptorsThroughTheBus() async throws {
        let bus = try DBusDaemonFixture()
        defer { bus.stop() }
        let sender = try await DBusConnection.connect(address: bus.address)
        defer { sender.close() }
        let receiver = try await DBusConnection.connect(address: bus.address)
        defer { receiver.close() }
        let stream = try await receiver.signals(matching: DBusMatchRule(interface: "org.swiftlet.Test", member: "Pipe"))
        let (read, write) = try FileDescriptor.pipe()
        defer { read.close() }
        try sender.send(.signal(path: "/org/swiftlet/Test", interface: "org.swiftlet.Test", member: "Pipe",
                                body: [.string("hello"), .unixFD(0)], fds: [write.rawValue]))
        write.close()
        var iterator = stream.makeAsyncIterator()
        let signal = try #require(await iterator.next())
        #expect(signal.sender == sender.uniqueName)
        #expect(signal.body.first == .string("hello"))
        guard case .unixFD(let index)? = signal.body.last, Int(index) < signal.fds.count else {
            Issue.record("no descriptor in \(signal.body)"); return
        }
        // The descriptor that arrived is the pipe's write end: what we write comes out of `read`.
        let arrived = FileDescriptor(rawValue: signal.fds[Int(index)])
        try arrived.writeAll("through the bus")
        arrived.close()
        #expect(String(decoding: try read.readAll(), as: UTF8.self) == "through the bus")
    }

    @Test func busSignalsArriveAndCallsToUsAreAnswered() async throws {
        let bus = try DBusDaemonFixture()
        defer { bus.stop() }
        let watcher = try await DBusConnection.connect(address: bus.address)
        defer { watcher.close() }
        let stream = try await watcher.signals(matching: DBusMatchRule(
            sender: "org.freedesktop.DBus", interface: "org.freedesktop.DBus", member: "NameOwnerChanged"))
        let other = try await DBusConnection.connect(address: bus.address)
        var iterator = stream.makeAsyncIterator()
        var announced = false
        while let signal = await iterator.next() {
            if signal.body.first?.stringValue == other.uniqueName { announced = true; break }
        }
        #expect(announced, "NameOwnerChanged for the new connection")
        // We export nothing, but answer Ping and refuse other calls rather than leave callers hanging.
        let ping = try await watcher.call(.methodCall(destination: other.uniqueName, path: "/", interface: "org.freedesktop.DBus.Peer", member: "Ping"))
        #expect(ping.kind == .methodReturn)
        await #expect(throws: DBusError.self) {
            _ = try await watcher.call(.methodCall(destination: other.uniqueName, path: "/x", interface: "org.x.Y", member: "Z"))
        }
        other.close()
    }

    @Test func closingFailsCallsAndEndsStreams() async throws {
        let bus = try DBusDaemonFixture()
        defer { bus.stop() }
        let a = try await DBusConnection.connect(address: bus.address)
        let stream = try await a.signals(matching: DBusMatchRule(interface: "org.swiftlet.Never"))
        a.close()
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == nil, "stream ends when the connection does")
        await #expect(throws: DBusError.self) {
            _ = try await a.call(.methodCall(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                             interface: "org.freedesktop.DBus", member: "GetId"))
        }
    }

    @Test func theBusGoingAwayEndsTheConnection() async throws {
        let bus = try DBusDaemonFixture()
        let a = try await DBusConnection.connect(address: bus.address)
        defer { a.close() }
        let stream = try await a.signals(matching: DBusMatchRule(interface: "org.swiftlet.Never"))
        bus.stop()
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }

    @Test func refusedAuthenticationIsReported() async throws {
        // A listener that answers the SASL exchange with REJECTED, as a bus does for a wrong uid.
        let path = "/tmp/swiftlet-dbus-reject-\(getpid()).sock"
        let server = try UnixListenerFixture(path: path, reply: "REJECTED EXTERNAL\r\n")
        defer { server.stop() }
        await #expect(throws: DBusError.self) { _ = try await DBusConnection.connect(address: "unix:path=\(path)") }
    }
}

/// A private dbus-daemon on a socket in a temporary folder, stopped (and its folder removed) by `stop()`.
final class DBusDaemonFixture: @unchecked Sendable {
    static let binary: String? = ["/usr/bin/dbus-daemon", "/bin/dbus-daemon"].first { FileManager.default.isExecutableFile(atPath: $0) }

    let directory: String
    let address: String
    private let process = Process()

    init() throws {
        directory = "/tmp/swiftlet-dbus-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let socket = directory + "/bus"
        address = "unix:path=" + socket
        let config = """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>\(address)</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
              </policy>
            </busconfig>
            """
        try config.write(toFile: directory + "/bus.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.binary ?? "/usr/bin/dbus-daemon")
        process.arguments = ["--config-file=\(directory)/bus.conf", "--nofork", "--nopidfile", "--nosyslog"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The socket file appears at bind(), before listen(): wait until a connection is accepted.
        var listening = false
        for _ in 0..<500 where !listening {
            if let probe = try? UnixStreamSocket.connect(UnixSocketAddress(path: socket)) {
                probe.close()
                listening = true
            } else {
                usleep(10_000)
            }
        }
        guard listening else {
            stop()
            throw DBusError.disconnected("dbus-daemon did not create \(socket)")
        }
    }

    func stop() {
        if process.isRunning {
            // dbus-daemon does not exit on SIGTERM in every configuration; the test's bus holds
            // nothing worth a graceful stop.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A stream listener that reads the first bytes and answers with a fixed reply.
final class UnixListenerFixture: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String, reply: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else { throw SystemError.current("bind", path: path) }
        let listener = fd
        Thread.detachNewThread {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 256)
            _ = read(client, &buffer, buffer.count)
            _ = reply.withCString { write(client, $0, strlen($0)) }
            usleep(200_000)
            close(client)
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }
}
