import CRIAPI
import Foundation
import GRPCCore
import LinuxPrimitives
import Testing

/// What kubelet does with a pod, through CRI: sandbox with CNI networking, a container, exec,
/// logs; `swiftlet cri` restarted in the middle (the pod must not notice and must be re-adopted);
/// then stop and remove, and nothing is left: no shim, cgroup, mount, veth, state or layer.
@Suite("CRI kubelet-style flow with a restart (SlowRootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct KubeletFlowSlowRootTests {
    @Test func podSurvivesARestartAndLeavesNothingBehind() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            let linksBefore = try h.links()
            let pod = CRI.podConfig("web", harness: h, labels: ["io.kubernetes.pod.name": "web"])
            let (sandbox, container, ip) = try await h.withClients { rt, _ in
                let sandbox = try await CRI.runPod(rt, pod)
                let ip = try await CRI.podStatus(rt, sandbox).status.network.ip
                let container = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("app",
                    command: ["/bin/sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]))
                #expect(try await CRI.sh(rt, container, "hostname") == "web")
                return (sandbox, container, ip)
            }
            #expect(!ip.isEmpty)
            let log = pod.logDirectory + "/app/0.log"
            #expect(await CRI.eventually(5) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("tick 3") })

            h.stop()
            let before = try String(contentsOfFile: log, encoding: .utf8).count
            try await Task.sleep(nanoseconds: 500_000_000)
            #expect(try String(contentsOfFile: log, encoding: .utf8).count > before, "the container keeps running and logging without the server")
            try await h.start()

            try await h.withClients { rt, _ in
                let status = try await CRI.podStatus(rt, sandbox).status
                #expect(status.state == .sandboxReady && status.network.ip == ip && status.labels == pod.labels)
                let c = try await CRI.status(rt, container).status
                #expect(c.state == .containerRunning && c.logPath == log)
                #expect(try await CRI.sh(rt, container, "echo after-restart") == "after-restart", "exec through the re-adopted shim")
                try await CRI.stopContainer(rt, container, timeout: 5)
                #expect(try await CRI.status(rt, container).status.state == .containerExited)
                try await CRI.removeContainer(rt, container)
                try await CRI.stopPod(rt, sandbox)
                try await CRI.removePod(rt, sandbox)
                #expect(try await rt.listPodSandbox(Runtime_V1_ListPodSandboxRequest()).items.isEmpty)
                #expect(try await rt.listContainers(Runtime_V1_ListContainersRequest()).containers.isEmpty)
            }
            #expect(try String(contentsOfFile: log, encoding: .utf8).contains("tick"), "logs stay for kubelet to rotate and remove")
            // Nothing leaked.
            #expect(h.shimPIDs().isEmpty)
            #expect(h.leftoverCgroups().isEmpty, "\(h.leftoverCgroups())")
            #expect(Mounts.mountPoints(under: h.runDir).isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.runDir + "/sandboxes")) ?? []).isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.root + "/containers")) ?? []).isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.root + "/images/pins")) ?? []).isEmpty)
            let linksAfter = try h.links()
            #expect(!linksAfter.contains { $0.hasPrefix("veth") }, "\(linksAfter)")
            #expect(Set(linksAfter).isSubset(of: Set(linksBefore + ["swiftlet0"])), "\(linksBefore) -> \(linksAfter)")
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
