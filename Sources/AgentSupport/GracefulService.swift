import Logging
import ServiceLifecycle

/// Runs a swift-service-lifecycle `Service` (a Hummingbird application, for one) until the
/// calling task is cancelled, and then shuts it down gracefully instead of cancelling it.
///
/// Why: a NIO server whose accept loop is cancelled drops the connections accepted but not
/// yet handed to it, and NIO traps on each ("Deinited NIOAsyncWriter without calling
/// finish()", apple/swift-nio#3481): the whole agent would crash on its way out, or a test
/// process in the middle of a run. Graceful shutdown closes the listener first and serves out
/// what was accepted. The service runs in a task of its own so our cancellation does not
/// reach it; if it has not ended `forceAfter` the shutdown began (a follow stream, say), it is
/// cancelled then, when nothing can be queued on the closed listener any more.
public enum GracefulService {
    public static func run(_ service: some Service, logger: Logger, forceAfter: Duration = .seconds(5)) async throws {
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task {
                await group.triggerGracefulShutdown()
                try? await Task.sleep(for: forceAfter)
                running.cancel()
            }
        }
    }
}
