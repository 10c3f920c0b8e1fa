import LinuxPrimitives
import Testing

/// The heap is trimmed once per burst of work, on the first quiet tick after it: never while
/// work goes on, never again while the process stays idle.
struct ProcessHeapTests {
    @Test func trimsOnceAfterEachBurst() {
        var trim = HeapTrimAfterBursts()
        #expect(trim.tick(activity: 0) == false)  // idle from the start: nothing to give back
        #expect(trim.tick(activity: 5) == false)  // work in this tick
        #expect(trim.tick(activity: 9) == false)  // still working
        #expect(trim.tick(activity: 9) == true)   // the first quiet tick after the burst
        #expect(trim.tick(activity: 9) == false)  // idle: not again
        #expect(trim.tick(activity: 9) == false)
        #expect(trim.tick(activity: 10) == false) // a new burst
        #expect(trim.tick(activity: 10) == true)
    }

    @Test func arenaLimitAndTrimAreAccepted() {
        // glibc takes any positive arena count; trimming reports whether pages went back.
        #expect(ProcessHeap.limitArenas(8))
        _ = ProcessHeap.trim()
    }
}
