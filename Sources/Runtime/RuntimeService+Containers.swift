import Foundation
import LinuxPrimitives
import ShimProtocol

extension RuntimeService {
    /// Prepares a container: image resolved and pinned, cgroup with limits, writable layer
    /// directories, and the spawn spec the shim will start it from.
    public func createContainer(sandboxID: String, _ containerConfig: ContainerConfig) throws -> String {
        let sandbox = try sandbox(sandboxID)
        let id = Identifiers.random()
        let sandboxDir = sandboxDir(sandboxID)
        let containerDir = ShimProtocol.Paths.containerDir(sandboxDir, id)
        let dataDir = config.containersDataDir + "/" + id
        let cgroupPath = sandbox.cgroupPath + "/" + id
        do {
            let image = try images.resolve(containerConfig.image)
            try images.retain(image, for: id)
            try FileSystem.createDirectory(containerDir + "/rootfs", mode: 0o700)
            try FileSystem.createDirectory(dataDir + "/upper", mode: 0o755)
            try FileSystem.createDirectory(dataDir + "/work", mode: 0o700)
            try cgroups.create(cgroupPath)
            let notEnforced = try cgroups.apply(containerConfig.resources.cgroupLimits, to: cgroupPath)
            let logPath = containerLogPath(sandbox, containerConfig)
            if !logPath.isEmpty {
                try FileSystem.createDirectory(String(logPath[..<(logPath.lastIndex(of: "/") ?? logPath.endIndex)]), mode: 0o755)
            }
            let builder = SpawnSpecBuilder(runtime: self, sandbox: sandbox, sandboxDir: sandboxDir, image: image)
            var spec = try builder.build(containerConfig, id: id)
            spec.rootfs = containerDir + "/rootfs"
            spec.upperDir = dataDir + "/upper"
            spec.workDir = dataDir + "/work"
            spec.cgroupDir = hierarchy.directory(cgroupPath)
            spec.logPath = logPath
            try FileSystem.writeAtomically(ShimProtocol.Paths.spawnSpec(sandboxDir, id), spec.records().encoded())
            let record = ContainerRecord(id: id, sandboxID: sandboxID, config: containerConfig, imageID: image.id, imageRef: image.reference,
                                         createdAt: WallClock.nanos(), cgroupPath: cgroupPath, logPath: logPath, upperDir: dataDir + "/upper",
                                         notEnforced: notEnforced, stopSignal: Signals.number(image.stopSignal) ?? SIGTERM)
            try StateFiles.save(record, to: containerDir + "/container.json")
            containers.withLock { $0[id] = record }
            if !notEnforced.isEmpty, reportOnce(notEnforced) {
                logger.notice("container \(containerConfig.name) of \(sandbox.config.namespace)/\(sandbox.config.name): \(notEnforced.joined(separator: ", ")) not enforced (no such controller in the cgroup2 hierarchy at \(hierarchy.mountPoint))")
            }
            return id
        } catch {
            try? cgroups.remove(cgroupPath)
            try? FileSystem.removeTree(containerDir)
            try? FileSystem.removeTree(dataDir)
            try? images.release(containerID: id)
            throw error
        }
    }

    /// True the first time a given set of unenforced limits is seen (says it once, not per pod).
    public func reportOnce(_ limits: [String]) -> Bool {
        notEnforcedReported.withLock { $0.insert(limits.sorted().joined(separator: ",")).inserted }
    }

    func containerLogPath(_ sandbox: SandboxRecord, _ containerConfig: ContainerConfig) -> String {
        guard !containerConfig.logPath.isEmpty else { return "" }
        if containerConfig.logPath.hasPrefix("/") || sandbox.config.logDirectory.isEmpty { return containerConfig.logPath }
        return sandbox.config.logDirectory + "/" + containerConfig.logPath
    }

    func container(_ id: String) throws -> ContainerRecord {
        guard let record = containers.withLock({ $0[id] }) else { throw RuntimeError.notFound("container", id) }
        return record
    }

    /// Starts a created container's process through the shim.
    public func startContainer(_ id: String) throws {
        let record = try container(id)
        let status = try containerStatus(id)
        guard status.state == .created else {
            throw RuntimeError(.invalid, "container \(id) is \(status.state.rawValue), not CONTAINER_CREATED")
        }
        _ = try ShimClient(sandboxDir: sandboxDir(record.sandboxID)).call(.start, [("id", id)])
    }

    /// SIGTERM (or the image's stop signal), up to `timeoutSeconds`, then SIGKILL of every
    /// process in the container's cgroup. Returns once the container has exited. Idempotent.
    public func stopContainer(_ id: String, timeoutSeconds: Int64) async throws {
        let record = try container(id)
        guard try containerStatus(id).state == .running else { return }
        let client = ShimClient(sandboxDir: sandboxDir(record.sandboxID))
        if timeoutSeconds > 0 {
            _ = try? client.call(.kill, [("id", id), ("signal", String(record.stopSignal))])
            if await waitForExit(id, timeoutNanos: timeoutSeconds * 1_000_000_000) { return }
        }
        try? cgroups.kill(record.cgroupPath)
        _ = try? client.call(.kill, [("id", id), ("signal", String(SIGKILL))])
        if !(await waitForExit(id, timeoutNanos: 10_000_000_000)) {
            throw RuntimeError(.failed, "container \(id) did not exit after SIGKILL")
        }
    }

    /// Sends a signal to the container's init process (kubelet-style preStop escalation, tests).
    public func signalContainer(_ id: String, signal: Int32) throws {
        let record = try container(id)
        _ = try ShimClient(sandboxDir: sandboxDir(record.sandboxID)).call(.kill, [("id", id), ("signal", String(signal))])
    }

    /// Polls the shim's state file: exits are also pushed as events, this is the waiter's side.
    func waitForExit(_ id: String, timeoutNanos: Int64) async -> Bool {
        let deadline = WallClock.monotonicNanos() + timeoutNanos
        while true {
            if let status = try? containerStatus(id), status.state != .running { return true }
            if WallClock.monotonicNanos() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
    }

    /// Removes a container (killing it if it still runs): cgroup, writable layer, its files.
    public func removeContainer(_ id: String) throws {
        guard let record = containers.withLock({ $0[id] }) else { return }
        if let status = try? containerStatus(id), status.state == .running {
            try? cgroups.kill(record.cgroupPath)
            _ = try? ShimClient(sandboxDir: sandboxDir(record.sandboxID)).call(.kill, [("id", id), ("signal", String(SIGKILL))])
            var waited = 0
            while (try? containerStatus(id))?.state == .running && waited < 2000 {
                usleep(2000)
                waited += 1
            }
        }
        try cgroups.remove(record.cgroupPath)
        try removeContainerFiles(record)
        containers.withLock { _ = $0.removeValue(forKey: id) }
    }

    func removeContainerFiles(_ record: ContainerRecord) throws {
        try FileSystem.removeTree(ShimProtocol.Paths.containerDir(sandboxDir(record.sandboxID), record.id))
        try FileSystem.removeTree(config.containersDataDir + "/" + record.id)
        try images.release(containerID: record.id)
    }

    /// The container's state from the shim's record of its process.
    public func containerStatus(_ id: String) throws -> ContainerStatusInfo {
        let record = try container(id)
        let shimState = ShimContainerState.load(ShimProtocol.Paths.state(sandboxDir(record.sandboxID), id))
        var info = ContainerStatusInfo(record: record, state: .created, pid: 0, startedAt: 0, finishedAt: 0, exitCode: 0, reason: "", message: "")
        guard let s = shimState else { return info }
        info.pid = s.pid
        info.startedAt = s.startedAt
        if !s.startError.isEmpty {
            info.state = .exited
            info.exitCode = 128
            info.finishedAt = s.finishedAt
            info.reason = "StartError"
            info.message = s.startError
        } else if s.exited {
            info.state = .exited
            info.exitCode = s.exitCode
            info.finishedAt = s.finishedAt
            if s.oomKills > 0 && s.signal == SIGKILL { info.reason = "OOMKilled" } else { info.reason = s.exitCode == 0 ? "Completed" : "Error" }
        } else {
            info.state = .running
        }
        if info.state == .running, sandboxes.withLock({ $0[record.sandboxID] }) == nil { info.state = .unknown }
        return info
    }

    public func listContainers(sandboxID: String? = nil) -> [ContainerRecord] {
        containers.withLock { $0.values.filter { sandboxID == nil || $0.sandboxID == sandboxID } }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Runs `command` in the container with the given stdio descriptors; returns the exit code.
    /// The process is the shim's child; closing our side makes the shim kill it.
    public func exec(_ id: String, command: [String], env: [String] = [], stdin: Int32, stdout: Int32, stderr: Int32,
                     timeoutSeconds: Int64 = 0) throws -> Int32 {
        let record = try container(id)
        return try ExecClient.run(sandboxDir: sandboxDir(record.sandboxID), containerID: id, command: command, env: env,
                                  stdin: stdin, stdout: stdout, stderr: stderr, timeoutSeconds: timeoutSeconds)
    }

    /// Reopens the container's log file (after the caller rotated it).
    public func reopenContainerLog(_ id: String) throws {
        let record = try container(id)
        _ = try ShimClient(sandboxDir: sandboxDir(record.sandboxID)).call(.reopenLog, [("id", id)])
    }

    /// Updates the limits of a container's cgroup (CRI UpdateContainerResources).
    /// The new resources are also recorded, so status reports what is in force (in-place resize).
    public func updateContainerResources(_ id: String, _ resources: ContainerResources) throws -> [String] {
        var record = try container(id)
        let notEnforced = try cgroups.apply(resources.cgroupLimits, to: record.cgroupPath)
        record.config.resources = resources
        try StateFiles.save(record, to: ShimProtocol.Paths.containerDir(sandboxDir(record.sandboxID), id) + "/container.json")
        containers.withLock { $0[id] = record }
        return notEnforced
    }
}
