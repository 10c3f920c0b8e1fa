import Foundation
import Glibc
import LinuxPrimitives
import Testing
@testable import ContainerStats

/// The collectors against real cgroups, processes, files and network namespaces. On this
/// hybrid host (no controllers on cgroup2) memory comes from the smaps_rollup fallback; on a
/// pure cgroup v2 host the same tests read memory.current & co.
@Suite(.enabled(if: TestHost.canMakeCgroups, "needs root and a cgroup2 mount"), .serialized)
struct CollectorRootTests {
    let layout = TestHost.layout!
    let now = HostConstants.wallClockSeconds()

    func onePod(_ fixture: CgroupFixture, namespace: String = "stats-test", pod: String = "p", container: String = "c",
                writableLayer: String? = nil, logs: String? = nil, volumes: [VolumeTarget] = [], netns: String? = nil) throws
        -> (StaticTargetSource, podPath: String, containerPath: String)
    {
        let podPath = try fixture.makeCgroup("pod")
        let containerPath = try fixture.makeCgroup("pod/ctr")
        let target = PodTarget(namespace: namespace, name: pod, uid: "uid-" + TestHost.uniqueSuffix(), cgroupPath: podPath, startTime: now,
                               networkNamespacePath: netns, volumes: volumes,
                               containers: [ContainerTarget(name: container, id: "cid-1", image: "bars.local/busybox:latest",
                                                            cgroupPath: containerPath, startTime: now, writableLayerPath: writableLayer,
                                                            logPath: logs)])
        return (StaticTargetSource(StatsTargets(pods: [target])), podPath, containerPath)
    }

    func service(_ source: StaticTargetSource) throws -> StatsService {
        var configuration = StatsConfiguration()
        configuration.filesystemUsageInterval = .milliseconds(100)
        return try StatsService(source: source, configuration: configuration)
    }

    @Test func cpuBurnRaisesUsageByTheBurnedTime() async throws {
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let (source, _, containerPath) = try onePod(fixture, pod: "burner", container: "burn")
        let stats = try service(source)
        let pid = try fixture.spawn(in: containerPath, "while :; do :; done")
        try await Task.sleep(for: .milliseconds(100))

        let first = await stats.housekeepOnce()
        let wallBefore = HostConstants.monotonicNanoseconds()
        let cpuBefore = try #require(processCPUSeconds(pid))
        // Burn at least half a CPU-second, however busy the machine is.
        _ = await waitUntil(seconds: 30) { (processCPUSeconds(pid) ?? 0) - cpuBefore >= 0.5 }
        let second = await stats.housekeepOnce()
        let cpuAfter = try #require(processCPUSeconds(pid))
        let wallSeconds = Double(HostConstants.monotonicNanoseconds() - wallBefore) / 1e9

        let c1 = try #require(first.pods.first?.containers.first?.sample.cpu)
        let c2 = try #require(second.pods.first?.containers.first?.sample.cpu)
        let cgroupDelta = Double(c2.usageMicros - c1.usageMicros) / 1e6
        let processDelta = cpuAfter - cpuBefore
        #expect(processDelta >= 0.5, "the busy loop barely ran: \(processDelta) s")
        // The cgroup counter moves with the process's own CPU time (10 ms tick granularity).
        #expect(abs(cgroupDelta - processDelta) <= 0.05 + 0.1 * processDelta, "cgroup \(cgroupDelta) s vs process \(processDelta) s")
        let podDelta = Double(try #require(second.pods.first?.sample?.cpu).usageMicros - (try #require(first.pods.first?.sample?.cpu)).usageMicros) / 1e6
        // The pod's counter includes the container's; the two are read a moment apart in each
        // round while the loop burns, so allow that moment (a few ms on a loaded machine).
        #expect(podDelta >= cgroupDelta * 0.99 - 0.02, "pod \(podDelta) s vs its container \(cgroupDelta) s")
        // usageNanoCores is the rate between the two rounds: burned time over elapsed time.
        let nanoCores = Double(try #require(second.pods.first?.containers.first?.usageNanoCores))
        let expected = cgroupDelta / wallSeconds * 1e9
        #expect(abs(nanoCores - expected) <= 0.25 * expected, "usageNanoCores \(nanoCores), expected about \(expected)")

        let text = String(decoding: CadvisorMetrics.render(second), as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("container_cpu_usage_seconds_total{container=\"burn\"") })
        #expect(line.contains("namespace=\"stats-test\"") && line.contains("pod=\"burner\"") && line.contains("id=\"\(containerPath)\""))
        #expect(line.contains("cpu=\"total\""))
    }

    @Test func memoryAllocationRaisesWorkingSet() async throws {
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let dir = "/tmp/swiftlet-stats-mem-\(TestHost.uniqueSuffix())"
        try FileSystem.createDirectory(dir)
        defer { try? FileSystem.removeTree(dir) }
        let (source, _, containerPath) = try onePod(fixture)
        let stats = try service(source)
        let allocation = 64 << 20
        try FileSystem.write(dir + "/alloc.py", Array("""
            import os, time
            open('\(dir)/ready', 'w').close()
            while not os.path.exists('\(dir)/go'):
                time.sleep(0.01)
            b = b'x' * \(allocation)
            open('\(dir)/done', 'w').close()
            time.sleep(120)
            """.utf8))
        try fixture.spawn(in: containerPath, "exec \(TestHost.python) \(dir)/alloc.py")
        #expect(await waitUntil(seconds: 10) { FileSystem.exists(dir + "/ready") })
        let before = await stats.housekeepOnce()
        try FileSystem.write(dir + "/go", [])
        #expect(await waitUntil(seconds: 10) { FileSystem.exists(dir + "/done") })
        let after = await stats.housekeepOnce()

        let m1 = try #require(before.pods.first?.containers.first?.sample.memory)
        let m2 = try #require(after.pods.first?.containers.first?.sample.memory)
        #expect(m2.source == (FileSystem.exists(layout.directory(of: containerPath) + "/memory.current") ? .cgroup : .processes))
        if layout.kind == .hybrid { #expect(m2.source == .processes) }
        let grew = Int64(try #require(m2.workingSetBytes)) - Int64(try #require(m1.workingSetBytes))
        #expect(grew >= Int64(allocation), "working set grew by \(grew) bytes for a \(allocation)-byte allocation")
        let rssGrew = Int64(try #require(m2.rssBytes)) - Int64(try #require(m1.rssBytes))
        #expect(rssGrew >= Int64(allocation))
        let podMemory = try #require(after.pods.first?.sample?.memory?.workingSetBytes)
        #expect(podMemory >= m2.workingSetBytes ?? 0)
        if m2.source == .processes {
            // No source for page cache on this host: those series must be absent, not zero.
            #expect(m2.cacheBytes == nil && m2.inactiveFileBytes == nil && m2.eventsMax == nil)
            let families = parseExposition(String(decoding: CadvisorMetrics.render(after), as: UTF8.self))
            #expect(families["container_memory_cache"]?.samples.contains { $0.contains("container=\"c\"") } != true)
        }
    }

    @Test func processesDescriptorsAndSocketsAreCounted() async throws {
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let dir = "/tmp/swiftlet-stats-fd-\(TestHost.uniqueSuffix())"
        try FileSystem.createDirectory(dir)
        defer { try? FileSystem.removeTree(dir) }
        let (source, _, containerPath) = try onePod(fixture)
        let stats = try service(source)
        try FileSystem.write(dir + "/fds.py", Array("""
            import socket, time
            ss = [socket.socket() for _ in range(3)]
            fs = [open('/dev/null') for _ in range(5)]
            open('\(dir)/ready', 'w').close()
            time.sleep(120)
            """.utf8))
        try fixture.spawn(in: containerPath, "\(TestHost.python) \(dir)/fds.py; sleep 100")
        #expect(await waitUntil(seconds: 10) { FileSystem.exists(dir + "/ready") })
        let snapshot = await stats.housekeepOnce()
        let usage = try #require(snapshot.pods.first?.containers.first?.sample.processes)
        #expect(usage.processes == 2)  // the shell and python
        #expect(usage.threads >= 2)
        #expect((usage.sockets ?? 0) >= 3)
        #expect((usage.fileDescriptors ?? 0) >= 3 + 5 + 3)
        #expect(usage.openFilesSoftLimit != nil)
        let podUsage = try #require(snapshot.pods.first?.sample?.processes)
        #expect(podUsage.processes == 2)
    }

    @Test func fileInWritableLayerRaisesFilesystemUsage() async throws {
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let base = "/tmp/swiftlet-stats-fs-\(TestHost.uniqueSuffix())"
        for sub in ["upper", "logs", "vol"] { try FileSystem.createDirectory(base + "/" + sub) }
        defer { try? FileSystem.removeTree(base) }
        let (source, _, _) = try onePod(fixture, writableLayer: base + "/upper", logs: base + "/logs",
                                        volumes: [VolumeTarget(name: "scratch", path: base + "/vol")])
        let stats = try service(source)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await stats.runFilesystemWalker() }
            defer { group.cancelAll() }

            var before: UInt64 = 0
            #expect(await waitUntil(seconds: 10) {
                let snapshot = await stats.housekeepOnce()
                guard let used = snapshot.pods.first?.containers.first?.rootfs?.used else { return false }
                before = used.bytes
                return true
            })
            let size = 5 << 20
            let fd = try FileDescriptor.open(base + "/upper/blob", O_WRONLY | O_CREAT, mode: 0o644)
            try fd.writeAll([UInt8](repeating: 0x5A, count: size))
            try fd.fsync()
            fd.close()
            try FileSystem.write(base + "/logs/0.log", Array("hello\n".utf8))

            var last: StatsSnapshot?
            let grew = await waitUntil(seconds: 10) {
                let snapshot = await stats.housekeepOnce()
                last = snapshot
                return (snapshot.pods.first?.containers.first?.rootfs?.used?.bytes ?? 0) >= before + UInt64(size)
            }
            #expect(grew, "writable layer usage did not grow by \(size) bytes")
            let snapshot = try #require(last)
            let container = try #require(snapshot.pods.first?.containers.first)
            #expect((container.rootfs?.used?.inodes ?? 0) >= 2)
            #expect(container.logs?.used != nil)
            #expect(snapshot.pods.first?.volumes.first?.name == "scratch")
            let text = String(decoding: CadvisorMetrics.render(snapshot), as: UTF8.self)
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("container_fs_usage_bytes{container=\"c\"") })
            #expect(line.contains("device=\"/dev/") || line.contains("device=\""))
            let value = try #require(UInt64(line.split(separator: " ")[1]))
            #expect(value >= UInt64(size))
        }
    }

    @Test func recreatedCgroupAtTheSamePathIsReadAfresh() async throws {
        let fixture = try CgroupFixture(layout: layout)
        defer { fixture.cleanup() }
        let (source, _, containerPath) = try onePod(fixture)
        let stats = try service(source)
        let first = try fixture.spawn(in: containerPath, "exec sleep 300")
        #expect(await waitUntil(seconds: 5) {
            await stats.housekeepOnce().pods.first?.containers.first?.sample.processes?.processes == 1
        })
        // Container restarted: its cgroup removed and made again at the same path.
        kill(first, SIGKILL)
        var status: Int32 = 0
        waitpid(first, &status, 0)
        let dir = layout.directory(of: containerPath)
        #expect(await waitUntil(seconds: 5) { rmdir(dir) == 0 })
        let gone = await stats.housekeepOnce()
        #expect(gone.pods.first?.containers.isEmpty == true)
        try FileSystem.createDirectory(dir)
        try fixture.spawn(in: containerPath, "sleep 300 & exec sleep 300")
        #expect(await waitUntil(seconds: 5) {
            await stats.housekeepOnce().pods.first?.containers.first?.sample.processes?.processes == 2
        })
    }

    @Test func vanishedCgroupsAndNamespacesAreSkipped() async throws {
        let source = StaticTargetSource(StatsTargets(pods: [PodTarget(
            namespace: "gone", name: "ghost", uid: "uid-ghost", cgroupPath: "/swiftlet-no-such-cgroup", startTime: now,
            networkNamespacePath: "/run/netns/swiftlet-no-such-netns",
            containers: [ContainerTarget(name: "c", id: "x", image: "i", cgroupPath: "/swiftlet-no-such-cgroup/c", startTime: now,
                                         writableLayerPath: "/nonexistent/upper")])]))
        let stats = try service(source)
        let snapshot = await stats.housekeepOnce()
        #expect(snapshot.pods.count == 1)
        #expect(snapshot.pods[0].sample == nil)
        #expect(snapshot.pods[0].containers.isEmpty)
        #expect(snapshot.pods[0].network == nil)
        #expect(snapshot.node.cpu != nil && snapshot.node.memory != nil)
        // The scrape still renders and stays valid.
        if promtoolPath != nil { #expect(try promtoolProblems(CadvisorMetrics.render(snapshot)) == nil) }
    }
}
