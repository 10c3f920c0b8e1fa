extension DetachedThread {
    /// Runs blocking `body` on a thread of its own and returns its result to the awaiting task,
    /// so that a call parked in the kernel for seconds (an exec, an attach) never holds one of
    /// the cooperative pool's few threads.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try start { continuation.resume(with: Result { try body() }) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
