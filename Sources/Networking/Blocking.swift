import LinuxPrimitives

/// Runs blocking work (waiting on plugin processes) on a thread of its own, so the
/// concurrency pool (two threads on a two-core node) keeps serving other pods meanwhile.
/// A thread per call costs tens of microseconds against a plugin run of milliseconds.
/// `DetachedThread.run` with the body's typed error kept, and the work done in place when no
/// thread can be had.
func blocking<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let outcome: Result<T, E> = await withCheckedContinuation { continuation in
        let work: @Sendable () -> Void = {
            do throws(E) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
        }
        do {
            try DetachedThread.start(work)
        } catch {
            // No thread to be had: do the work here rather than not at all.
            work()
        }
    }
    return try outcome.get()
}
