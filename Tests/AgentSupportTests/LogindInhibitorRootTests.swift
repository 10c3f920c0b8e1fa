import Foundation
import LinuxPrimitives
import Testing
@testable import AgentSupport

/// Against the real systemd-logind on the system bus. This host has neither, so these run inside
/// the VM (Tests/vm scenario `logind`, driven by LogindVMSlowTests) and skip here.
enum SystemBus {
    static let available = getuid() == 0 && FileManager.default.fileExists(atPath: "/run/systemd/system")
        && FileManager.default.fileExists(atPath: "/run/dbus/system_bus_socket")
    static let reason: Comment = "needs root, systemd as PID 1 and a system bus with logind (runs in the VM)"

    /// Polls `condition` every 50 ms for up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

@Suite(.enabled(if: SystemBus.available, SystemBus.reason), .serialized)
struct LogindInhibitorRootTests {
    @Test func delayLockIsListedByLogindUntilReleased() async throws {
        let bus = try await DBusConnection.systemBus()
        defer { bus.close() }
        let who = "swiftlet-test-\(getpid())"
        let inhibitor = try await LogindShutdownInhibitor.acquire(bus: bus, who: who, why: "graceful pod shutdown")
        defer { inhibitor.close() }
        func ours() async throws -> [LogindShutdownInhibitor.Inhibitor] {
            try await LogindShutdownInhibitor.inhibitors(bus: bus).filter { $0.who == who }
        }
        let listed = try await ours()
        #expect(listed == [LogindShutdownInhibitor.Inhibitor(what: "shutdown", who: who, why: "graceful pod shutdown",
                                                              mode: "delay", uid: 0, pid: UInt32(getpid()))])
        #expect(inhibitor.isHeld)
        #expect(inhibitor.inhibitDelayMax > .zero, "logind's InhibitDelayMaxUSec")

        inhibitor.release()
        #expect(!inhibitor.isHeld)
        #expect(try await SystemBus.eventually(5) { try await ours().isEmpty }, "logind drops the lock when its descriptor closes")
        try await inhibitor.reacquire()
        #expect(try await ours().count == 1)
    }

    @Test func inhibitDelayMaxCanBeRaisedForLongGracePeriods() async throws {
        let bus = try await DBusConnection.systemBus()
        defer { bus.close() }
        let directory = "/run/systemd/logind.conf.d"
        let before = try await LogindShutdownInhibitor.inhibitDelayMax(bus: bus)
        try await LogindShutdownInhibitor.raiseInhibitDelayMax(to: .seconds(47), bus: bus, dropInDirectory: directory)
        let raised = try await SystemBus.eventually(10) {
            try await LogindShutdownInhibitor.inhibitDelayMax(bus: bus) == .seconds(47)
        }
        #expect(raised, "logind reread its configuration after SIGHUP")
        // Put logind back as it was.
        try? FileManager.default.removeItem(atPath: directory + "/99-swiftlet.conf")
        _ = try await bus.call(.methodCall(destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
                                           interface: "org.freedesktop.systemd1.Manager", member: "KillUnit",
                                           body: [.string("systemd-logind.service"), .string("main"), .int32(SIGHUP)]))
        #expect(try await SystemBus.eventually(10) { try await LogindShutdownInhibitor.inhibitDelayMax(bus: bus) == before })
    }

    @Test func callsLogindRefusesAreErrorsWithTheirName() async throws {
        let bus = try await DBusConnection.systemBus()
        defer { bus.close() }
        await #expect(throws: DBusError.remote(name: "org.freedesktop.DBus.Error.InvalidArgs", message: "Invalid what specification nonsense")) {
            _ = try await bus.call(.methodCall(destination: LogindShutdownInhibitor.destination, path: LogindShutdownInhibitor.path,
                                               interface: LogindShutdownInhibitor.interface, member: "Inhibit",
                                               body: [.string("nonsense"), .string("x"), .string("y"), .string("delay")]))
        }
    }
}

/// A real `systemctl poweroff` while we hold the lock: PrepareForShutdown(true) arrives, the
/// host stays up while we hold on, and goes down once we release. Only in the VM scenario that
/// asks for it (the host goes down at the end), with markers written to $VM_OUT for the host.
@Suite(.enabled(if: SystemBus.available && ProcessInfo.processInfo.environment["SWIFTLET_VM_POWEROFF_TEST"] == "1",
                "only in the logind VM scenario (powers the VM off)"))
struct LogindPoweroffVMTests {
    @Test func poweroffWaitsForTheDelayLock() async throws {
        let out = ProcessInfo.processInfo.environment["VM_OUT"] ?? "/tmp"
        let marker = out + "/poweroff-marker"
        let bus = try await DBusConnection.systemBus()
        let inhibitor = try await LogindShutdownInhibitor.acquire(bus: bus, who: "swiftlet-poweroff-test")
        var events = inhibitor.events.makeAsyncIterator()

        let started = Date()
        let poweroff = Process()
        poweroff.executableURL = URL(fileURLWithPath: "/usr/bin/systemctl")
        poweroff.arguments = ["poweroff"]
        try poweroff.run()
        let event = await events.next()
        let waitedMs = Int(Date().timeIntervalSince(started) * 1000)
        guard case .shutdownStarting(let grace)? = event else {
            Issue.record("expected PrepareForShutdown(true), got \(String(describing: event))")
            return
        }
        var lines = ["event=prepare-for-shutdown", "grace_ms=\(grace.components.seconds * 1000)", "after_ms=\(waitedMs)"]
        try FileSystem.writeAtomically(marker, lines.joined(separator: "\n") + "\n", durable: true)
        // Holding the lock, the host must still be up: no poweroff job queued yet.
        try await Task.sleep(for: .seconds(1))
        let jobs = Process()
        jobs.executableURL = URL(fileURLWithPath: "/usr/bin/systemctl")
        jobs.arguments = ["list-jobs", "--no-legend"]
        let pipe = Pipe()
        jobs.standardOutput = pipe
        try jobs.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        jobs.waitUntilExit()
        lines.append("poweroff_job_while_held=\(listing.contains("poweroff.target") ? 1 : 0)")
        lines.append("released=1")
        try FileSystem.writeAtomically(marker, lines.joined(separator: "\n") + "\n", durable: true)
        sync()
        inhibitor.release()
        // The host goes down now; this process is stopped with it.
        try await Task.sleep(for: .seconds(60))
        Issue.record("still running 60 s after releasing the lock")
    }
}
