import LinuxPrimitives
import Logging

/// What a daemon says to systemd, in one place for the agent and the API server to wire in:
///
///     let systemd = SystemdService.fromEnvironment(logger: logger)
///     // ... re-adopt pods, first sync ...
///     systemd.ready(status: "running 12 pods")
///     group.addTask { await systemd.runWatchdog { await kubelet.isSyncLoopHealthy() } }
///     // on SIGTERM:
///     systemd.stopping(status: "stopping")
///
/// Outside systemd (no `$NOTIFY_SOCKET`) every call does nothing. Failures to notify are logged
/// once per kind and never thrown: losing a status line must not take the agent down.
public struct SystemdService: Sendable {
    public let notifier: SystemdNotifier?
    public let watchdog: WatchdogSettings?
    let logger: Logger

    public init(notifier: SystemdNotifier?, watchdog: WatchdogSettings?, logger: Logger) {
        self.notifier = notifier
        self.watchdog = watchdog
        self.logger = logger
    }

    /// From `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`; a malformed socket value is
    /// logged and treated as absent.
    public static func fromEnvironment(logger: Logger) -> SystemdService {
        var notifier: SystemdNotifier?
        do {
            notifier = try SystemdNotifier.fromEnvironment()
        } catch {
            logger.error("ignoring NOTIFY_SOCKET: \(error)")
        }
        return SystemdService(notifier: notifier, watchdog: WatchdogSettings.fromEnvironment(), logger: logger)
    }

    /// Whether systemd listens (Type=notify or a watchdog).
    public var isActive: Bool { notifier != nil }

    /// READY=1: start-up is complete (for the agent: pods re-adopted, first sync done).
    public func ready(status: String? = nil) { send("READY") { try $0.ready(status: status) } }

    public func status(_ text: String) { send("STATUS") { try $0.status(text) } }

    public func stopping(status: String? = nil) { send("STOPPING") { try $0.stopping(status: status) } }

    /// Sends WATCHDOG=1 every half watchdog interval for as long as `isHealthy` answers true,
    /// until the task is cancelled. When the main loop is wedged `isHealthy` should say so (or
    /// hang): the pings stop and systemd kills and restarts the service. Returns at once when
    /// no watchdog is armed.
    public func runWatchdog(isHealthy: @escaping @Sendable () async -> Bool = { true }) async {
        guard let watchdog, notifier != nil else { return }
        let interval = Duration.microseconds(Int64(clamping: watchdog.keepAliveIntervalMicroseconds))
        while !Task.isCancelled {
            if await isHealthy() {
                send("WATCHDOG") { try $0.watchdog() }
            } else {
                logger.warning("main loop unhealthy: withholding the systemd watchdog keep-alive")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    private func send(_ what: String, _ body: (SystemdNotifier) throws -> Void) {
        guard let notifier else { return }
        do {
            try body(notifier)
        } catch {
            logger.warning("sd_notify \(what) to \(notifier.address): \(error)")
        }
    }
}
