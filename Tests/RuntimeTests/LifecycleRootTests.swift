import Foundation
import Glibc
import LinuxPrimitives
import ShimProtocol
import Testing
@testable import Runtime

@Suite(.serialized, .enabled(if: TestEnv.isRoot && TestEnv.hasBusybox, "needs root and /bin/busybox (busybox-static)"))
struct LifecycleRootTests {
    @Test func execJoinsTheContainer() async throws {
        let f = try RuntimeFixture()
        do {
            let sid = try await f.runtime.runPodSandbox(f.sandboxConfig("execpod"))
            let c = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "c", image: "busybox", command: ["sh", "-c", "echo inside > /tmp/marker; exec sleep 300"],
                security: ContainerSecurity(runAsUser: 1000)))
            try f.runtime.startContainer(c)
            let pid = try f.runtime.containerStatus(c).pid
            #expect(await f.eventually { FileSystem.exists("/proc/\(pid)/root/tmp/marker") })
            let out = try FileDescriptor.pipe()
            let code = try f.runtime.exec(c, command: ["sh", "-c", "cat /tmp/marker; hostname; id -u; ls /proc | grep -c '^[0-9]'"],
                                          stdin: out.read.rawValue, stdout: out.write.rawValue, stderr: out.write.rawValue)
            out.write.close()
            let text = String(decoding: try out.read.readAll(), as: UTF8.self)
            out.read.close()
            #expect(code == 0)
            // Same rootfs, hostname, user; the container's pid namespace (its init and us, plus ls/grep).
            #expect(text.hasPrefix("inside\nexecpod\n1000\n"))
            let processes = Int(text.split(separator: "\n").last ?? "") ?? 0
            #expect(processes >= 2 && processes <= 5, "\(text)")

            let failing = try FileDescriptor.pipe()
            let rc = try f.runtime.exec(c, command: ["sh", "-c", "exit 42"], stdin: failing.read.rawValue,
                                        stdout: failing.write.rawValue, stderr: failing.write.rawValue)
            failing.read.close()
            failing.write.close()
            #expect(rc == 42)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }

    @Test func newRuntimeReadoptsRunningPods() async throws {
        let f = try RuntimeFixture()
        do {
            let sid = try await f.runtime.runPodSandbox(f.sandboxConfig("survivor"))
            let c = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(name: "c", image: "busybox", command: ["sleep", "300"]))
            try f.runtime.startContainer(c)
            let pid = try f.runtime.containerStatus(c).pid
            // An orphan from a previous life: a pod cgroup no sandbox owns.
            let orphan = f.cgroupRoot + "/kubepods/burstable/podorphan"
            try f.runtime.cgroups.create(orphan)

            let second = try RuntimeService(config: f.runtime.config, images: BusyboxImages(layer: "/tmp/swiftlet-test-busybox-layer"))
            let adopted = await second.recover()
            #expect(adopted.map(\.id) == [sid])
            let status = try second.containerStatus(c)
            #expect(status.state == .running && status.pid == pid)
            #expect(kill(pid, 0) == 0)
            #expect(!FileSystem.exists(f.runtime.hierarchy.directory(orphan)))
            // The new runtime can operate the adopted pod.
            try await second.stopContainer(c, timeoutSeconds: 1)
            #expect(try second.containerStatus(c).state == .exited)
            try await second.removePodSandbox(sid)
            #expect(second.listPodSandboxes().isEmpty)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }

    @Test func sharedProcessNamespace() async throws {
        let f = try RuntimeFixture()
        do {
            var config = f.sandboxConfig("sharedpid")
            config.pid = .pod
            let sid = try await f.runtime.runPodSandbox(config)
            let a = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(name: "a", image: "busybox", command: ["sleep", "301"]))
            let b = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
                name: "b", image: "busybox", command: ["sh", "-c", "ps; exec sleep 302"], logPath: "b/0.log"))
            try f.runtime.startContainer(a)
            try f.runtime.startContainer(b)
            #expect(await f.eventually { f.log(config, "b/0.log").contains("sleep 301") })
            let pa = try f.runtime.containerStatus(a).pid
            let pb = try f.runtime.containerStatus(b).pid
            #expect(Namespaces.identity(.pid, of: pa) == Namespaces.identity(.pid, of: pb))
            try await f.runtime.removePodSandbox(sid)
            #expect(kill(pa, 0) != 0)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }
}
