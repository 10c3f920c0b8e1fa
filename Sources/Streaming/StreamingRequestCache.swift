import Synchronization

/// A prepared stream, waiting for its client to connect.
public enum StreamingRequest: Sendable, Equatable {
    case exec(ExecOptions)
    case attach(AttachOptions)
    case portForward(PortForwardOptions)
}

/// Single-use tokens for the URLs that CRI Exec, Attach and PortForward answer with, as
/// kubelet's streaming server keeps them: random, valid for one connection within `ttl`.
final class StreamingRequestCache: Sendable {
    private struct Entry {
        var request: StreamingRequest
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let ttl: Duration
    let capacity: Int

    init(ttl: Duration = .seconds(60), capacity: Int = 1000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    /// Stores `request` and returns its token (URL-safe, 128 random bits).
    func insert(_ request: StreamingRequest) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<2).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        let now = ContinuousClock.now
        try entries.withLock { entries in
            entries = entries.filter { $0.value.expires > now }
            guard entries.count < capacity else {
                throw StreamingError(status: 429, "too many streaming requests in flight (\(capacity))")
            }
            entries[token] = Entry(request: request, expires: now.advanced(by: ttl))
        }
        return token
    }

    /// The request for `token`, which is used up; nil when unknown or expired.
    func consume(_ token: String) -> StreamingRequest? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: token), entry.expires > now else { return nil }
            return entry.request
        }
    }
}
