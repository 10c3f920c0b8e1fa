import CRIAPI
import Foundation
import GRPCCore
import LinuxPrimitives
import Testing

/// The CRI validation suite's "Container" group: lifecycle, logs, exec, resources.
@Suite("CRI containers (RootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct ContainerRootTests {
    @Test func lifecycleListStatusAndIdempotence() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("life", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                var config = CRI.containerConfig("main", command: CRI.sleeper)
                config.labels = ["tier": "front", "odd/label": "ü"]
                config.annotations = ["io.kubernetes.container.hash": "abc", "text": "a\nb"]
                config.envs = [Runtime_V1_KeyValue.with { $0.key = "GREETING"; $0.value = "hi there" }]
                let id = try await CRI.create(rt, sandbox, pod, config)
                var status = try await CRI.status(rt, id, verbose: true).status
                #expect(status.state == .containerCreated)
                #expect(status.labels == config.labels && status.annotations == config.annotations)
                #expect(status.imageID.hasPrefix("sha256:"))
                #expect(status.logPath == pod.logDirectory + "/main/0.log")
                try await CRI.start(rt, id)
                status = try await CRI.status(rt, id).status
                #expect(status.state == .containerRunning)
                #expect(status.startedAt >= status.createdAt && status.createdAt > 0)
                #expect(status.user.linux.uid == 0)
                #expect(try await CRI.sh(rt, id, "echo $GREETING") == "hi there")

                // Second start of a running container is refused.
                #expect(await CRI.code { try await CRI.start(rt, id) } != nil)

                var list = Runtime_V1_ListContainersRequest()
                list.filter.podSandboxID = sandbox
                #expect(try await rt.listContainers(list).containers.map(\.id) == [id])
                list.filter.state.state = .containerExited
                #expect(try await rt.listContainers(list).containers.isEmpty)
                list.filter = Runtime_V1_ContainerFilter()
                list.filter.labelSelector = ["tier": "front"]
                let listed = try #require(try await rt.listContainers(list).containers.first)
                #expect(listed.id == id && listed.podSandboxID == sandbox && listed.state == .containerRunning)
                #expect(listed.annotations == config.annotations)

                // A container that ignores SIGTERM is killed once the timeout passes.
                let stubborn = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("stubborn",
                    command: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 1; done"]))
                let started = Date()
                try await CRI.stopContainer(rt, stubborn, timeout: 2)
                let took = Date().timeIntervalSince(started)
                #expect(took >= 1.8 && took < 10, "graceful period honoured, then SIGKILL (took \(took)s)")
                let stopped = try await CRI.status(rt, stubborn).status
                #expect(stopped.state == .containerExited && stopped.exitCode == 137 && stopped.finishedAt > 0)

                // Stop and remove twice; then NotFound for status, success for stop/remove.
                for _ in 0..<2 { try await CRI.stopContainer(rt, id, timeout: 10) }
                #expect(try await CRI.status(rt, id).status.state == .containerExited)
                for _ in 0..<2 { try await CRI.removeContainer(rt, id) }
                #expect(await CRI.code { try await CRI.status(rt, id) } == .notFound)
                #expect(await CRI.code { try await CRI.exec(rt, id, ["true"]) } == .notFound)
                #expect(await CRI.code { try await CRI.start(rt, id) } == .notFound)
                try await CRI.stopContainer(rt, id)
                // Creating in an unknown sandbox.
                #expect(await CRI.code { try await CRI.create(rt, "feedface", pod, config) } == .notFound)
                var noImage = config
                noImage.image.image = "test.local/missing:1"
                #expect(await CRI.code { try await CRI.create(rt, sandbox, pod, noImage) } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func logsGoWhereTheCallerAsksAndReopen() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("logs", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                let once = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("once",
                    command: ["/bin/sh", "-c", "echo hello World; echo oops >&2"], logPath: "once/3.log"))
                #expect(await CRI.eventually(10) { try await CRI.status(rt, once).status.state == .containerExited })
                let path = pod.logDirectory + "/once/3.log"
                let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                #expect(lines.count == 2)
                #expect(lines.contains { $0.hasSuffix(" stdout F hello World") })
                #expect(lines.contains { $0.hasSuffix(" stderr F oops") })
                #expect(try await CRI.status(rt, once).status.exitCode == 0)

                let chatty = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("chatty",
                    command: ["/bin/sh", "-c", "while true; do echo tick; sleep 0.2; done"]))
                let log = pod.logDirectory + "/chatty/0.log"
                #expect(await CRI.eventually(5) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("tick") })
                try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
                var reopen = Runtime_V1_ReopenContainerLogRequest()
                reopen.containerID = chatty
                _ = try await rt.reopenContainerLog(reopen)
                #expect(FileManager.default.fileExists(atPath: log))
                #expect(await CRI.eventually(5) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("tick") })
                let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
                try await Task.sleep(nanoseconds: 600_000_000)
                #expect(try String(contentsOfFile: log + ".1", encoding: .utf8) == rotated, "the old file is no longer written")
                // Reopening the log of an exited container is refused.
                reopen.containerID = once
                #expect(await CRI.code { try await rt.reopenContainerLog(reopen) } == .failedPrecondition)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func execSyncOutputExitCodesAndTimeout() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("execsync", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                let id = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("c", command: CRI.sleeper))
                let hello = try await CRI.exec(rt, id, ["echo", "hello"])
                #expect(hello.stdout == "hello\n" && hello.stderr.isEmpty && hello.exitCode == 0)
                let mixed = try await CRI.exec(rt, id, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
                #expect(mixed.stdout == "out\n" && mixed.stderr == "err\n" && mixed.exitCode == 3)
                #expect(try await CRI.exec(rt, id, ["hostname"]).stdout == "execsync\n")
                // A big output arrives whole (more than a pipe holds).
                let big = try await CRI.exec(rt, id, ["/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done"])
                #expect(big.stdout.split(separator: "\n").count == 20000)

                let started = Date()
                #expect(await CRI.code { try await CRI.exec(rt, id, ["sleep", "30"], timeout: 1) } == .deadlineExceeded)
                #expect(Date().timeIntervalSince(started) < 5)
                #expect(await CRI.eventually(5) {
                    try await CRI.sh(rt, id, "ps -o args | grep -c '^sleep 30'") == "0"
                }, "the timed-out process is gone")
                #expect(await CRI.code { try await CRI.exec(rt, id, []) } == .invalidArgument)
                #expect(await CRI.code { try await CRI.exec(rt, id, ["/no/such/binary"]) } != nil, "a command that cannot start is an error")
                try await CRI.stopContainer(rt, id)
                #expect(await CRI.code { try await CRI.exec(rt, id, ["true"]) } == .failedPrecondition)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func updateContainerResourcesAndStatusReportsThem() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("res", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                var config = CRI.containerConfig("c", command: CRI.sleeper)
                config.linux.resources.cpuShares = 512
                config.linux.resources.memoryLimitInBytes = 64 << 20
                config.linux.resources.cpuQuota = 50_000
                config.linux.resources.cpuPeriod = 100_000
                let id = try await CRI.run(rt, sandbox, pod, config)
                var resources = try await CRI.status(rt, id).status.resources.linux
                #expect(resources.memoryLimitInBytes == 64 << 20)
                #expect(resources.cpuQuota == 50_000 && resources.cpuPeriod == 100_000)
                #expect(abs(resources.cpuShares - 512) < 30, "shares survive the cpu.weight round trip approximately")
                var update = Runtime_V1_UpdateContainerResourcesRequest()
                update.containerID = id
                update.linux.memoryLimitInBytes = 128 << 20
                update.linux.cpuQuota = 20_000
                update.linux.cpuPeriod = 100_000
                _ = try await rt.updateContainerResources(update)
                let cgroup = try #require(try await CRI.status(rt, id, verbose: true).info["info"])
                #expect(cgroup.contains("cgroupPath"))
                resources = try await CRI.status(rt, id).status.resources.linux
                #expect(resources.memoryLimitInBytes == 128 << 20, "status reports the resources in force")
                #expect(resources.cpuQuota == 20_000)
                update.containerID = "nope"
                #expect(await CRI.code { try await rt.updateContainerResources(update) } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
