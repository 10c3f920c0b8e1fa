import Glibc
import Testing
@testable import LinuxPrimitives

/// sd_notify against a datagram socket the test binds, as systemd's manager would.
@Suite struct SystemdNotifyTests {
    /// A unique abstract name per test, so parallel tests never share a socket.
    static func abstractName(_ tag: String) -> String { "@swiftlet-notify-test-\(getpid())-\(tag)" }

    func listen(_ text: String) throws -> UnixDatagramSocket {
        let socket = try UnixDatagramSocket.bind(try UnixSocketAddress(parsing: text))
        try socket.setReceiveTimeout(milliseconds: 2000)
        return socket
    }

    @Test func readyAndStatusArriveInOneDatagramOnAnAbstractSocket() throws {
        let name = Self.abstractName("ready")
        let server = try listen(name)
        defer { server.close() }
        let notifier = try #require(try SystemdNotifier(notifySocket: name))
        try notifier.ready(status: "re-adopted 3 pods")
        #expect(String(decoding: try server.receive(), as: UTF8.self) == "READY=1\nSTATUS=re-adopted 3 pods\n")
    }

    @Test func watchdogStatusAndStoppingOnAPathSocket() throws {
        let path = "/tmp/swiftlet-notify-test-\(getpid()).sock"
        let server = try listen(path)
        defer { server.close(); unlink(path) }
        let notifier = try #require(try SystemdNotifier(notifySocket: path))
        try notifier.watchdog()
        try notifier.status("syncing\nline two")
        try notifier.stopping(status: "stopping pods")
        try notifier.triggerWatchdog()
        let received = try (0..<4).map { _ in String(decoding: try server.receive(), as: UTF8.self) }
        #expect(received == [
            "WATCHDOG=1\n", "STATUS=syncing line two\n", "STOPPING=1\nSTATUS=stopping pods\n", "WATCHDOG=trigger\n",
        ])
    }

    @Test func abstractNamesAreBoundWithoutTrailingNul() throws {
        // The kernel lists abstract sockets in /proc/net/unix with '@' for every NUL: a length
        // that counted a terminator would show up as "@name@", a different socket from systemd's.
        let name = Self.abstractName("exact")
        let server = try listen(name)
        defer { server.close() }
        let table = try FileSystem.readString("/proc/net/unix")
        let names = table.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(names.contains(name), "bound name as the kernel shows it")
        #expect(!names.contains(name + "@"))
        try #require(try SystemdNotifier(notifySocket: name)).notify([(key: "X", value: "1")])
        #expect(try server.receive() == Array("X=1\n".utf8))
    }

    @Test func noSocketMeansNoNotifier() throws {
        #expect(try SystemdNotifier(notifySocket: nil) == nil)
        #expect(try SystemdNotifier(notifySocket: "") == nil)
    }

    @Test func malformedSocketValuesAreErrorsNamingTheValue() {
        #expect(throws: SystemError("unix socket address", errno: EAFNOSUPPORT, path: "vsock:2:1234")) {
            _ = try SystemdNotifier(notifySocket: "vsock:2:1234")
        }
        #expect(throws: SystemError("unix socket address", errno: EAFNOSUPPORT, path: "relative/path")) {
            _ = try SystemdNotifier(notifySocket: "relative/path")
        }
        let long = "/" + String(repeating: "a", count: 200)
        #expect(throws: SystemError("unix socket address", errno: ENAMETOOLONG, path: long)) {
            _ = try SystemdNotifier(notifySocket: long)
        }
    }

    @Test func nobodyListeningIsAnError() throws {
        let notifier = try #require(try SystemdNotifier(notifySocket: Self.abstractName("nobody")))
        #expect(throws: SystemError.self) { try notifier.ready() }
    }

    @Test func invalidKeysAreRefused() throws {
        let notifier = try #require(try SystemdNotifier(notifySocket: Self.abstractName("keys")))
        #expect(throws: SystemError("sd_notify(invalid key)", errno: EINVAL, path: "A=B")) {
            try notifier.notify([(key: "A=B", value: "1")])
        }
    }

    @Test func watchdogSettingsFollowSystemdsRules() {
        let me = getpid()
        #expect(WatchdogSettings.parse(usec: "30000000", pid: nil, ownPID: me)?.timeoutMicroseconds == 30_000_000)
        #expect(WatchdogSettings.parse(usec: "30000000", pid: "\(me)", ownPID: me)?.keepAliveIntervalMicroseconds == 15_000_000)
        #expect(WatchdogSettings.parse(usec: "30000000", pid: "\(me + 1)", ownPID: me) == nil, "another process's watchdog")
        #expect(WatchdogSettings.parse(usec: nil, pid: nil, ownPID: me) == nil)
        #expect(WatchdogSettings.parse(usec: "0", pid: nil, ownPID: me) == nil)
        #expect(WatchdogSettings.parse(usec: "soon", pid: nil, ownPID: me) == nil)
        #expect(WatchdogSettings.parse(usec: "30000000", pid: "x", ownPID: me) == nil)
    }

    @Test func environmentIsReadWithoutFoundation() {
        setenv("SWIFTLET_NOTIFY_TEST_VAR", "value 1", 1)
        defer { unsetenv("SWIFTLET_NOTIFY_TEST_VAR") }
        #expect(ProcessEnvironment.value("SWIFTLET_NOTIFY_TEST_VAR") == "value 1")
        #expect(ProcessEnvironment.value("SWIFTLET_NOTIFY_TEST_UNSET_VAR") == nil)
    }
}
