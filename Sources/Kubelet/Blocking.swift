import Foundation

/// Runs blocking work (an exec through the shim, a TCP connect) on a thread of its own so it
/// never holds one of the few cooperative-pool threads.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
    }
}
