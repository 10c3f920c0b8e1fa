import CLinux
import Glibc
import LinuxPrimitives
import ShimProtocol

/// The per-pod supervisor's event loop: one thread, one poll over the control socket, the
/// agent's connections, the containers' output pipes and a signalfd for SIGCHLD/SIGTERM.
/// It starts containers as its own children, reaps them (and orphans: it is a subreaper),
/// writes their logs and their exit status to disk, and answers the agent.
final class Shim {
    struct Container {
        var spec: ContainerSpawnSpec
        var process: SpawnedProcess?
        var state: ShimContainerState
        var log: CRILogWriter?
        var openPipes = 0
        /// Where attached clients' input goes: the write end of the stdin pipe, or the pty master.
        var stdinFD: Int32?
        /// The master end of a tty container's terminal (also read as its output).
        var ptyMaster: Int32?
    }

    struct Pipe {
        let containerID: String
        let stream: Int
    }

    struct ExecProcess {
        let connection: Int32
        let pidfd: FileDescriptor
    }

    let sandboxDir: String
    let server: UnixSocket
    let signals: Int32
    let pausePID: pid_t?
    var containers: [String: Container] = [:]
    var containerByPID: [pid_t: String] = [:]
    var pipes: [Int32: Pipe] = [:]
    var connections: Set<Int32> = []
    var subscribers: Set<Int32> = []
    var execs: [pid_t: ExecProcess] = [:]
    /// Attached clients by their connection descriptor.
    var attachments: [Int32: Attachment] = [:]
    var running = true
    var buffer = [UInt8](repeating: 0, count: 65536)

    init(sandboxDir: String, server: UnixSocket, signals: Int32, pausePID: pid_t?) {
        self.sandboxDir = sandboxDir
        self.server = server
        self.signals = signals
        self.pausePID = pausePID
    }

    func run() -> Never {
        while running {
            var fds: [pollfd] = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                                 pollfd(fd: server.fd.rawValue, events: Int16(POLLIN), revents: 0)]
            for c in connections { fds.append(pollfd(fd: c, events: Int16(POLLIN), revents: 0)) }
            for p in pipes.keys { fds.append(pollfd(fd: p, events: Int16(POLLIN), revents: 0)) }
            for a in attachments.values { if let input = a.stdin { fds.append(pollfd(fd: input, events: Int16(POLLIN), revents: 0)) } }
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == signals { handleSignals() }
                else if entry.fd == server.fd.rawValue { acceptConnection() }
                else if connections.contains(entry.fd) { handleConnection(entry.fd) }
                else if pipes[entry.fd] != nil { drainPipe(entry.fd, untilEmpty: false) }
                else { forwardAttachedInput(entry.fd) }
            }
        }
        shutdownAndExit()
    }

    // MARK: signals and reaping

    func handleSignals() {
        while true {
            let sig = clinux_signalfd_read(signals)
            if sig <= 0 { return }
            if sig == SIGCHLD { reap() } else if sig == SIGTERM || sig == SIGINT { running = false }
        }
    }

    func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            let exitCode: Int32
            let signal: Int32
            if clinux_wifexited(status) != 0 {
                exitCode = clinux_wexitstatus(status)
                signal = 0
            } else {
                signal = clinux_wtermsig(status)
                exitCode = 128 + signal
            }
            if let id = containerByPID.removeValue(forKey: pid) {
                containerExited(id, exitCode: exitCode, signal: signal)
            } else if let exec = execs.removeValue(forKey: pid) {
                exec.pidfd.close()
                var r = Records()
                r.append("exit_code", exitCode)
                r.append("signal", signal)
                try? UnixSocket(fd: FileDescriptor(rawValue: exec.connection)).send(r)
            }
        }
    }

    func containerExited(_ id: String, exitCode: Int32, signal: Int32) {
        guard var c = containers[id] else { return }
        // Output written just before exit is still in the pipes: log it before the status.
        for (fd, pipe) in pipes where pipe.containerID == id { drainPipe(fd, untilEmpty: true) }
        c = containers[id] ?? c
        c.process?.pidfd.close()
        c.process = nil
        c.state.exited = true
        c.state.exitCode = exitCode
        c.state.signal = signal
        c.state.finishedAt = WallClock.nanos()
        if let input = c.stdinFD, input != c.ptyMaster { close(input) }
        c.stdinFD = nil
        if !c.spec.cgroupDir.isEmpty, let text = try? FileSystem.readSmall(c.spec.cgroupDir + "/memory.events") {
            c.state.oomKills = text.split(separator: "\n").first { $0.hasPrefix("oom_kill ") }.flatMap { Int($0.dropFirst(9)) } ?? -1
        }
        containers[id] = c
        persist(id)
        var event = Records()
        event.append("event", "exit")
        event.append("id", id)
        event.append("exit_code", exitCode)
        for s in subscribers { try? UnixSocket(fd: FileDescriptor(rawValue: s)).send(event) }
        finishAttachments(of: id, exitCode: exitCode)
    }

    func persist(_ id: String) {
        guard let c = containers[id] else { return }
        try? FileSystem.writeAtomically(ShimProtocol.Paths.state(sandboxDir, id), c.state.records().encoded())
    }

    // MARK: output pipes

    func drainPipe(_ fd: Int32, untilEmpty: Bool) {
        guard let pipe = pipes[fd] else { return }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    containers[pipe.containerID]?.log?.feed(stream: pipe.stream, chunk)
                    copyToAttachments(pipe.containerID, stream: pipe.stream, chunk)
                }
                if !untilEmpty && n < buffer.count { return }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            // End of stream (or an error): the writers are gone.
            containers[pipe.containerID]?.log?.finish(stream: pipe.stream)
            close(fd)
            pipes.removeValue(forKey: fd)
            if var c = containers[pipe.containerID] {
                if c.ptyMaster == fd {
                    c.ptyMaster = nil
                    c.stdinFD = nil
                }
                c.openPipes -= 1
                if c.openPipes == 0 {
                    c.log?.close()
                    c.log = nil
                }
                containers[pipe.containerID] = c
            }
            return
        }
    }

    // MARK: connections

    func acceptConnection() {
        guard let client = try? server.accept() else { return }
        connections.insert(client.fd.rawValue)
    }

    func dropConnection(_ fd: Int32) {
        connections.remove(fd)
        subscribers.remove(fd)
        // An exec whose caller went away is not left running.
        for (_, exec) in execs where exec.connection == fd {
            _ = clinux_pidfd_send_signal(exec.pidfd.rawValue, SIGKILL, 0)
        }
        detach(connection: fd)
        close(fd)
    }

    func handleConnection(_ fd: Int32) {
        let socket = UnixSocket(fd: FileDescriptor(rawValue: fd))
        let message: (records: Records, fds: [Int32])?
        do { message = try socket.receiveRecords() } catch {
            reply(socket, error: "\(error)")
            return
        }
        guard let (request, passed) = message else {
            dropConnection(fd)
            return
        }
        switch request.string("op").flatMap(ShimProtocol.Op.init(rawValue:)) {
        case .ping:
            reply(socket, ["pid": String(getpid())])
        case .start:
            handleStart(socket, request)
        case .kill:
            handleKill(socket, request)
        case .exec:
            handleExec(socket, request, fds: passed)
        case .state:
            handleState(socket)
        case .events:
            subscribers.insert(fd)
            reply(socket, [:])
        case .reopenLog:
            handleReopen(socket, request)
        case .attach:
            handleAttach(socket, request, fds: passed)
        case .resize:
            handleResize(socket, request)
        case .shutdown:
            reply(socket, [:])
            running = false
        case nil:
            reply(socket, error: "unknown op \(request.string("op") ?? "(none)")")
        }
        let keepsDescriptors = [ShimProtocol.Op.exec.rawValue, ShimProtocol.Op.attach.rawValue]
        if !keepsDescriptors.contains(request.string("op") ?? "") { for f in passed { close(f) } }
    }

    func reply(_ socket: UnixSocket, _ fields: [String: String]) {
        var r = Records()
        r.append("ok", "1")
        for (k, v) in fields { r.append(k, v) }
        try? socket.send(r)
    }

    func reply(_ socket: UnixSocket, error: String) {
        var r = Records()
        r.append("error", error)
        try? socket.send(r)
    }
}
