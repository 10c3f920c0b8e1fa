import CLinux

/// How this process's malloc heap is kept small.
///
/// glibc gives each thread that meets contention an arena of its own, up to eight per core, and
/// keeps what is freed in each. A node agent's short-lived threads (shim launches, blocking
/// calls) and its bursts of pod syncs left 16 arenas holding ~6 MiB that nothing used again.
public enum ProcessHeap {
    /// Caps the number of malloc arenas. Call before the process starts its threads.
    @discardableResult
    public static func limitArenas(_ arenas: Int32) -> Bool {
        clinux_heap_limit_arenas(arenas) == 1
    }

    /// Returns the free pages of every arena to the kernel (about a millisecond per call).
    @discardableResult
    public static func trim() -> Bool {
        clinux_heap_trim() == 1
    }
}

/// Trims the heap once a burst of work is over: on a periodic tick, after a tick that saw work
/// and a following one that saw none. Never mid-burst, never repeatedly while idle.
public struct HeapTrimAfterBursts: Sendable {
    private var lastActivity: Int64 = 0
    private var workSinceTrim = false

    public init() {}

    /// Called on every tick with a counter that grows with the work done (writes, syncs).
    /// Returns whether it trimmed.
    @discardableResult
    public mutating func tick(activity: Int64) -> Bool {
        if activity != lastActivity {
            lastActivity = activity
            workSinceTrim = true
            return false
        }
        guard workSinceTrim else { return false }
        workSinceTrim = false
        ProcessHeap.trim()
        return true
    }
}
