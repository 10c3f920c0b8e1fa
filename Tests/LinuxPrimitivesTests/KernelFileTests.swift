import Foundation
import LinuxPrimitives
import Testing

@Suite struct KernelFileTests {
    /// seq_files larger than a page arrive in several short reads; all of them must be read
    /// (a stop at the first short read lost the cgroup2 line of a long mountinfo).
    @Test func readsSeqFilesLargerThanAPage() throws {
        let path = "/proc/zoneinfo"
        let whole = try #require(FileManager.default.contents(atPath: path))
        try #require(whole.count > 4096, "needs a procfs file over one page")
        let ours = try #require(try KernelFile.read(path))
        let lines = { (bytes: [UInt8]) in bytes.filter { $0 == 0x0A }.count }
        #expect(lines(ours) == lines(Array(whole)))
        #expect(ours.last == 0x0A)
    }
}
