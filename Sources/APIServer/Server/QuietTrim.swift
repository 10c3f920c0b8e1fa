#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed by a burst of writes back to the kernel once the burst is over.
///
/// glibc keeps freed heap pages in its arenas, so a server that answered 10,000 creates stays
/// megabytes above its working set until the next burst happens to reuse them. One
/// `malloc_trim(0)` after writes stop (a checkpoint tick with no new resourceVersion, after one
/// with) returns them; it walks the arenas in about a millisecond, and never runs mid-burst or
/// while the server is idle.
struct QuietTrim {
    private var lastResourceVersion: Int64 = 0
    private var writesSinceTrim = false

    /// Called on every checkpoint tick with the newest committed resourceVersion.
    mutating func tick(resourceVersion: Int64) {
        if resourceVersion != lastResourceVersion {
            lastResourceVersion = resourceVersion
            writesSinceTrim = true
            return
        }
        guard writesSinceTrim else { return }
        writesSinceTrim = false
        _ = Self.mallocTrim?(0)
    }

    /// glibc's `malloc_trim`, looked up once: Swift's Glibc module does not import <malloc.h>.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
