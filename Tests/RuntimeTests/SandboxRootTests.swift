import Foundation
import Glibc
import LinuxPrimitives
import ShimProtocol
import Testing
@testable import Runtime

@Suite(.serialized, .enabled(if: TestEnv.isRoot && TestEnv.hasBusybox, "needs root and /bin/busybox (busybox-static)"))
struct SandboxRootTests {
    @Test func twoContainersShareEmptyDirAndPodNamespaces() async throws {
        let f = try RuntimeFixture()
        do {
            let sb = f.sandboxConfig("sharer")
            let sid = try await f.runtime.runPodSandbox(sb)
            let volume = f.base + "/vol"
            try FileSystem.createDirectory(volume)
            let writer = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "writer", image: "busybox", command: ["/bin/sh", "-c", "echo shared-data > /data/f; exec sleep 300"],
                mounts: [ContainerMount(containerPath: "/data", hostPath: volume)], logPath: "writer/0.log"))
            let reader = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "reader", image: "busybox",
                command: ["/bin/sh", "-c", "while [ ! -f /data/f ]; do sleep 0.05; done; cat /data/f; hostname; exec sleep 300"],
                mounts: [ContainerMount(containerPath: "/data", hostPath: volume)], logPath: "reader/0.log"))
            try f.runtime.startContainer(writer)
            try f.runtime.startContainer(reader)
            #expect(await f.eventually { f.log(sb, "reader/0.log").contains("stdout F sharer") })
            let log = f.log(sb, "reader/0.log")
            #expect(log.contains(" stdout F shared-data\n"))
            let line = log.split(separator: "\n").first.map(String.init) ?? ""
            #expect(line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F shared-data$"#, options: .regularExpression) != nil)

            let p1 = try f.runtime.containerStatus(writer).pid
            let p2 = try f.runtime.containerStatus(reader).pid
            #expect(try f.runtime.containerStatus(writer).state == .running)
            for kind in [NamespaceKind.net, .ipc, .uts] {
                #expect(Namespaces.identity(kind, of: p1) == Namespaces.identity(kind, of: p2), "\(kind) shared in the pod")
                #expect(Namespaces.identity(kind, of: p1) != Namespaces.identity(kind, of: getpid()), "\(kind) not the host's")
            }
            #expect(Namespaces.identity(.mnt, of: p1) != Namespaces.identity(.mnt, of: p2))
            #expect(Namespaces.identity(.pid, of: p1) != Namespaces.identity(.pid, of: p2))
            // The container process is in its own cgroup below the pod's.
            let cg = CgroupHierarchy.ownCgroup(pid: p1) ?? ""
            #expect(cg.hasPrefix(f.cgroupRoot + "/kubepods/besteffort/pod\(sb.uid)/"))

            try await f.runtime.removePodSandbox(sid)
            #expect(kill(p1, 0) != 0 && kill(p2, 0) != 0)
            #expect(Mounts.mountPoints(under: f.base + "/run").isEmpty)
            #expect(!FileSystem.exists(f.runtime.hierarchy.directory(f.cgroupRoot + "/kubepods/besteffort/pod\(sb.uid)")))
            #expect(try FileSystem.listDirectory(f.base + "/run/sandboxes").isEmpty)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }

    @Test func exitCodesAndReasons() async throws {
        let f = try RuntimeFixture()
        do {
            let sid = try await f.runtime.runPodSandbox(f.sandboxConfig("exits"))
            let ok = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(name: "ok", image: "busybox", command: ["true"]))
            let bad = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(name: "bad", image: "busybox", command: ["sh", "-c", "exit 7"]))
            let missing = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(name: "missing", image: "busybox", command: ["/no/such/binary"]))
            try f.runtime.startContainer(ok)
            try f.runtime.startContainer(bad)
            #expect(throws: (any Error).self) { try f.runtime.startContainer(missing) }
            #expect(await f.eventually { try f.runtime.containerStatus(ok).state == .exited && f.runtime.containerStatus(bad).state == .exited })
            #expect(try f.runtime.containerStatus(ok).exitCode == 0)
            #expect(try f.runtime.containerStatus(ok).reason == "Completed")
            #expect(try f.runtime.containerStatus(bad).exitCode == 7)
            #expect(try f.runtime.containerStatus(bad).reason == "Error")
            let start = try f.runtime.containerStatus(missing)
            #expect(start.state == .exited && start.reason == "StartError")
            #expect(start.message.contains("execve") && start.message.contains("ENOENT"))
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }

    @Test func gracefulStopRunsTheTermHandler() async throws {
        let f = try RuntimeFixture()
        do {
            let sb = f.sandboxConfig("graceful")
            let sid = try await f.runtime.runPodSandbox(sb)
            let c = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "c", image: "busybox",
                command: ["sh", "-c", "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.05; done"],
                logPath: "c/0.log"))
            try f.runtime.startContainer(c)
            #expect(await f.eventually { f.log(sb, "c/0.log").contains("ready") })
            try await f.runtime.stopContainer(c, timeoutSeconds: 5)
            let status = try f.runtime.containerStatus(c)
            #expect(status.state == .exited && status.exitCode == 0)
            #expect(f.log(sb, "c/0.log").contains("stdout F got-term"))

            // A process ignoring SIGTERM is killed after the grace period.
            let stubborn = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "stubborn", image: "busybox", command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"]))
            try f.runtime.startContainer(stubborn)
            let t0 = Date()
            try await f.runtime.stopContainer(stubborn, timeoutSeconds: 1)
            #expect(Date().timeIntervalSince(t0) >= 0.9)
            #expect(try f.runtime.containerStatus(stubborn).exitCode == 137)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }
}
