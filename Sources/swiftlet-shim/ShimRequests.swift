import CLinux
import Glibc
import LinuxPrimitives
import ShimProtocol

extension Shim {
    /// `start id=<container>`: spawn the container from its spawn spec on disk.
    func handleStart(_ socket: UnixSocket, _ request: Records) {
        guard let id = request.string("id"), !id.isEmpty, !id.contains("/") else {
            return reply(socket, error: "start: missing or invalid id")
        }
        if let existing = containers[id], existing.process != nil {
            return reply(socket, ["pid": String(existing.state.pid)])
        }
        let specPath = ShimProtocol.Paths.spawnSpec(sandboxDir, id)
        guard let bytes = try? FileSystem.readBytes(specPath), let records = Records.decode(bytes),
              let spec = ContainerSpawnSpec(records: records) else {
            return reply(socket, error: "start: cannot read spawn spec \(specPath)")
        }
        var container = Container(spec: spec, process: nil, state: ShimContainerState(), log: nil)
        do {
            let io = try ContainerIO(spec)
            var log: CRILogWriter? = nil
            if !spec.logPath.isEmpty {
                do { log = try CRILogWriter(path: spec.logPath) } catch {
                    io.closeAll()
                    throw error
                }
            }
            let process: SpawnedProcess
            do {
                process = try ContainerSpawner.spawnContainer(spec, stdin: io.childStdin, stdout: io.childStdout, stderr: io.childStderr)
            } catch {
                io.closeAll()
                log?.close()
                throw error
            }
            io.closeChildEnds()
            for (index, fd) in io.outputs.enumerated() {
                try? FileDescriptor(rawValue: fd).setNonBlocking()
                pipes[fd] = Pipe(containerID: id, stream: index)
            }
            if let input = io.stdinWriter { try? FileDescriptor(rawValue: input).setNonBlocking() }
            container.openPipes = io.outputs.count
            container.stdinFD = io.stdinWriter
            container.ptyMaster = io.ptyMaster
            container.log = log
            container.process = process
            container.state.pid = process.pid
            container.state.startedAt = WallClock.nanos()
            containers[id] = container
            containerByPID[process.pid] = id
            persist(id)
            reply(socket, ["pid": String(process.pid)])
        } catch {
            container.state.exited = true
            container.state.exitCode = 128
            container.state.startError = "\(error)"
            container.state.finishedAt = WallClock.nanos()
            containers[id] = container
            persist(id)
            reply(socket, error: "\(error)")
        }
    }

    /// `kill id=<container> signal=<n>`: signal the container's init through its pidfd.
    func handleKill(_ socket: UnixSocket, _ request: Records) {
        guard let id = request.string("id"), let signal = request.int("signal") else {
            return reply(socket, error: "kill: missing id or signal")
        }
        guard let process = containers[id]?.process else { return reply(socket, ["exited": "1"]) }
        if clinux_pidfd_send_signal(process.pidfd.rawValue, Int32(signal), 0) != 0 && errno != ESRCH {
            return reply(socket, error: "\(SystemError.current("pidfd_send_signal(\(signal))"))")
        }
        reply(socket, [:])
    }

    /// `exec id=<container> arg=... [env=...] [cwd=...]` with stdin, stdout, stderr passed as
    /// descriptors. Replies with the pid, and later with `exit_code` on the same connection.
    func handleExec(_ socket: UnixSocket, _ request: Records, fds: [Int32]) {
        defer { for f in fds { close(f) } }
        guard let id = request.string("id"), let container = containers[id], let process = container.process else {
            return reply(socket, error: "exec: container is not running")
        }
        guard fds.count == 3 else { return reply(socket, error: "exec: expected 3 descriptors, got \(fds.count)") }
        var spec = container.spec
        spec.argv = request.strings("arg")
        guard !spec.argv.isEmpty else { return reply(socket, error: "exec: empty command") }
        for extra in request.strings("env") {
            let name = extra.split(separator: "=", maxSplits: 1).first.map(String.init) ?? extra
            spec.env.removeAll { $0.hasPrefix(name + "=") }
            spec.env.append(extra)
        }
        if let cwd = request.string("cwd"), !cwd.isEmpty { spec.workingDir = cwd }
        // With a terminal the caller passed the pty slave three times; it becomes the exec's
        // controlling terminal.
        spec.tty = request.bool("tty")
        do {
            let exec = try ContainerSpawner.spawnExec(into: process.pidfd, spec, stdin: fds[0], stdout: fds[1], stderr: fds[2])
            execs[exec.pid] = ExecProcess(connection: socket.fd.rawValue, pidfd: exec.pidfd)
            reply(socket, ["pid": String(exec.pid)])
        } catch {
            reply(socket, error: "\(error)")
        }
    }

    func handleState(_ socket: UnixSocket) {
        var r = Records()
        r.append("ok", "1")
        for (id, c) in containers {
            var s = c.state.records()
            s.append("id", id)
            r.append("container", s.encoded())
        }
        try? socket.send(r)
    }

    func handleReopen(_ socket: UnixSocket, _ request: Records) {
        guard let id = request.string("id"), let log = containers[id]?.log else {
            return reply(socket, error: "reopen-log: container has no open log")
        }
        do {
            try log.reopen()
            reply(socket, [:])
        } catch {
            reply(socket, error: "\(error)")
        }
    }

    /// Kills what is left, waits for it, releases the sandbox's mounts and exits.
    func shutdownAndExit() -> Never {
        for (_, c) in containers {
            if let p = c.process { _ = clinux_pidfd_send_signal(p.pidfd.rawValue, SIGKILL, 0) }
        }
        for (_, e) in execs { _ = clinux_pidfd_send_signal(e.pidfd.rawValue, SIGKILL, 0) }
        if let pausePID { kill(pausePID, SIGKILL) }
        var remaining = containerByPID.count + execs.count + (pausePID == nil ? 0 : 1)
        var spins = 0
        while remaining > 0 && spins < 2000 {
            let before = containerByPID.count + execs.count
            reap()
            if let pausePID, waitpid(pausePID, nil, WNOHANG) == pausePID { remaining -= 1 }
            remaining -= before - (containerByPID.count + execs.count)
            if remaining > 0 { usleep(1000) }
            spins += 1
        }
        for (fd, _) in pipes { drainPipe(fd, untilEmpty: true) }
        for kind in NamespaceKind.allCases {
            try? Namespaces.release(ShimProtocol.Paths.namespace(sandboxDir, kind))
        }
        try? Mounts.unmount(ShimProtocol.Paths.shm(sandboxDir))
        unlink(ShimProtocol.Paths.socket(sandboxDir))
        unlink(ShimProtocol.Paths.pidFile(sandboxDir))
        exit(0)
    }
}
