import LinuxPrimitives
import Testing
@testable import ContainerStats

@Suite struct KernelTextTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func cpuStatFlatKeyed() {
        let values = KernelText.flatKeyed(bytes("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 3\nthrottled_usec 42\n"))
        #expect(values["usage_usec"] == 1_500_000)
        #expect(values["nr_throttled"] == 3)
        #expect(values["throttled_usec"] == 42)
        #expect(values["nonexistent"] == nil)
    }

    @Test func meminfoAndSmapsInBytes() {
        let values = KernelText.colonKeyed(bytes("MemTotal:       24684084 kB\nHugePages_Total:       0\nPss_Anon:   2048 kB\n"))
        #expect(values["MemTotal"] == 24_684_084 * 1024)
        #expect(values["HugePages_Total"] == 0)
        #expect(values["Pss_Anon"] == 2048 * 1024)
    }

    @Test func singleValueAndMax() {
        #expect(KernelText.singleValue(bytes("123456\n")) == .value(123_456))
        #expect(KernelText.singleValue(bytes("max\n")) == .unlimited)
        #expect(KernelText.singleValue(bytes("garbage\n")) == nil)
        #expect(KernelText.cpuMax(bytes("max 100000\n")).quota == nil)
        #expect(KernelText.cpuMax(bytes("50000 100000\n")) == (50_000, 100_000))
    }

    @Test func pressureTotals() {
        let psi = KernelText.pressure(bytes("some avg10=0.00 avg60=0.00 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=678\n"))
        #expect(psi.some == 12345)
        #expect(psi.full == 678)
    }

    @Test func ioStatPerDevice() {
        let lines = KernelText.ioStat(bytes("254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0 cost.usage=77\n"))
        #expect(lines.count == 2)
        #expect(lines[0].device == DeviceNumber(major: 254, minor: 0))
        #expect(lines[0].values["wbytes"] == 8192)
        #expect(lines[1].values["cost.usage"] == 77)
    }

    @Test func controllerListIncludesTheLastWord() {
        #expect(KernelText.words(bytes("cpuset cpu io memory hugetlb pids\n")) == ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"])
        #expect(KernelText.words(bytes("\n")).isEmpty)
    }

    @Test func idsAndLineCount() {
        #expect(KernelText.ids(bytes("12\n345\n")) == [12, 345])
        #expect(KernelText.lineCount(bytes("1\n2\n3\n")) == 3)
        #expect(KernelText.lineCount(bytes("")) == 0)
        #expect(KernelText.lineCount(bytes("1\n2")) == 2)
    }

    @Test func limitsOpenFiles() {
        let text = """
            Limit                     Soft Limit           Hard Limit           Units
            Max cpu time              unlimited            unlimited            seconds
            Max open files            1024                 524288               files
            """
        #expect(KernelText.openFilesSoftLimit(bytes(text)) == 1024)
    }

    @Test func mountinfoWithEscapes() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n50 27 0:50 / /mnt/with\\040space rw shared:1 - tmpfs tmpfs rw\n"
        let mounts = KernelText.mountinfo(bytes(text))
        #expect(mounts.count == 3)
        #expect(mounts[0].device == DeviceNumber(major: 254, minor: 0))
        #expect(mounts[0].source == "/dev/vda")
        #expect(mounts[1].fsType == "cgroup2")
        #expect(mounts[2].mountPoint == "/mnt/with space")
        #expect(mounts[2].fsType == "tmpfs")
    }

    @Test func layoutDetection() throws {
        let hybrid = KernelText.mountinfo(bytes("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"))
        let h = try CgroupLayout.detect(mounts: hybrid)
        #expect(h.kind == .hybrid)
        #expect(h.mountPoint == "/sys/fs/cgroup/unified")
        let pure = KernelText.mountinfo(bytes("30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
        let p = try CgroupLayout.detect(mounts: pure)
        #expect(p.kind == .unified)
        #expect(p.mountPoint == "/sys/fs/cgroup")
        #expect(throws: StatsError.self) { try CgroupLayout.detect(mounts: []) }
        #expect(p.directory(of: "kubepods//pod1/") == "/sys/fs/cgroup/kubepods/pod1")
        #expect(p.directory(of: "/") == "/sys/fs/cgroup")
    }

    @Test func procStatLines() {
        let cpu = KernelText.procStatCPU(bytes("cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n"))
        #expect(cpu?.busy == 100 + 5 + 50 + 3 + 2 + 1)
        #expect(cpu?.user == 105)
        #expect(KernelText.loadavgTasks(bytes("0.10 0.20 0.30 2/345 6789\n")) == 345)
        let fields = KernelText.procStatFields(bytes("42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 500 1000 200"))
        #expect(fields?.first.map { KernelText.string($0) } == "S")
        #expect(fields.flatMap { KernelText.number($0[11]) } == 7)
    }

    @Test func osReleaseQuotes() {
        let values = KernelText.osRelease(bytes("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"))
        #expect(values["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)")
        #expect(values["ID"] == "debian")
    }

    @Test func goDurations() throws {
        #expect(try GoDuration.parse("10s") == .seconds(10))
        #expect(try GoDuration.parse("1m30s") == .seconds(90))
        #expect(try GoDuration.parse("250ms") == .milliseconds(250))
        #expect(try GoDuration.parse("1.5s") == .milliseconds(1500))
        #expect(try GoDuration.parse("2h") == .seconds(7200))
        #expect(throws: StatsError.invalidDuration("10")) { try GoDuration.parse("10") }
        #expect(throws: StatsError.invalidDuration("ten seconds")) { try GoDuration.parse("ten seconds") }
        #expect(throws: StatsError.invalidDuration("")) { try GoDuration.parse("") }
    }

    @Test func rfc3339() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(1_700_000_000) == "2023-11-14T22:13:20Z")
        #expect(RFC3339.format(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(1.5, fractional: true) == "1970-01-01T00:00:01.5Z")
    }
}
