import Glibc

/// Runs blocking work (waiting on plugin processes) on a thread of its own, so the
/// concurrency pool (two threads on a two-core node) keeps serving other pods meanwhile.
/// A thread per call costs tens of microseconds against a plugin run of milliseconds.
func blocking<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let outcome: Result<T, E> = await withCheckedContinuation { continuation in
        let job = BlockingJob {
            do throws(E) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
        }
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<BlockingJob>.fromOpaque(raw).takeRetainedValue().work()
            return nil
        }, context)
        if rc == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: do the work here rather than not at all.
            Unmanaged<BlockingJob>.fromOpaque(context).takeRetainedValue().work()
        }
    }
    return try outcome.get()
}

final class BlockingJob: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
