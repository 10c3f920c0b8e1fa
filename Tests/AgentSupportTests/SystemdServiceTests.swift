import Glibc
import LinuxPrimitives
import Logging
import Testing
@testable import AgentSupport

@Suite struct SystemdServiceTests {
    func listener(_ tag: String) throws -> (UnixDatagramSocket, SystemdNotifier) {
        let name = "@swiftlet-service-test-\(getpid())-\(tag)"
        let socket = try UnixDatagramSocket.bind(try UnixSocketAddress(parsing: name))
        try socket.setReceiveTimeout(milliseconds: 300)
        return (socket, try #require(try SystemdNotifier(notifySocket: name)))
    }

    func drain(_ socket: UnixDatagramSocket) -> [String] {
        var got: [String] = []
        while let bytes = try? socket.receive() { got.append(String(decoding: bytes, as: UTF8.self)) }
        return got
    }

    @Test func readyStatusStoppingReachTheManager() throws {
        let (socket, notifier) = try listener("lifecycle")
        defer { socket.close() }
        let service = SystemdService(notifier: notifier, watchdog: nil, logger: Logger(label: "test"))
        service.ready(status: "re-adopted 2 pods")
        service.status("syncing")
        service.stopping()
        #expect(drain(socket) == ["READY=1\nSTATUS=re-adopted 2 pods\n", "STATUS=syncing\n", "STOPPING=1\n"])
    }

    @Test func watchdogPingsWhileHealthyAndStopsWhenNot() async throws {
        let (socket, notifier) = try listener("watchdog")
        defer { socket.close() }
        let service = SystemdService(notifier: notifier, watchdog: WatchdogSettings(timeoutMicroseconds: 100_000),
                                     logger: Logger(label: "test"))
        let healthy = try await pings(service, socket, healthy: true)
        // Half the timeout between keep-alives: about 8 in 400 ms; a loaded machine may delay some.
        #expect(healthy >= 1, "keep-alives while healthy, got \(healthy)")
        let wedged = try await pings(service, socket, healthy: false)
        #expect(wedged == 0, "no keep-alive while the main loop is unhealthy")
    }

    func pings(_ service: SystemdService, _ socket: UnixDatagramSocket, healthy: Bool) async throws -> Int {
        let task = Task { await service.runWatchdog { healthy } }
        try await Task.sleep(for: .milliseconds(400))
        task.cancel()
        await task.value
        return drain(socket).filter { $0 == "WATCHDOG=1\n" }.count
    }

    @Test func outsideSystemdNothingHappens() async {
        let service = SystemdService(notifier: nil, watchdog: WatchdogSettings(timeoutMicroseconds: 1000), logger: Logger(label: "test"))
        #expect(!service.isActive)
        service.ready()
        await service.runWatchdog()  // returns at once
    }
}
