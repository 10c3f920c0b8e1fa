import CLinux
import Glibc
import LinuxPrimitives
import ShimProtocol

/// A client attached to a container's stdio (CRI Attach): it gets the container's output as
/// it is produced (after it is logged) and may feed its stdin.
struct Attachment {
    let containerID: String
    /// Input from the client, forwarded to the container's stdin; nil when not streaming stdin.
    var stdin: Int32?
    let stdout: Int32
    let stderr: Int32
}

extension Shim {
    /// `attach id=<container> stdin=0|1` with three descriptors (input, stdout, stderr). The
    /// connection stays open while attached; when the container exits the shim sends
    /// `exit_code` on it and closes the descriptors. Output is written without blocking the
    /// shim: a client that does not keep up loses output (the log has all of it).
    func handleAttach(_ socket: UnixSocket, _ request: Records, fds: [Int32]) {
        guard fds.count == 3 else {
            for f in fds { close(f) }
            return reply(socket, error: "attach: expected 3 descriptors, got \(fds.count)")
        }
        guard let id = request.string("id"), let container = containers[id], container.process != nil else {
            for f in fds { close(f) }
            return reply(socket, error: "attach: container is not running")
        }
        let wantsInput = request.bool("stdin")
        if wantsInput && container.stdinFD == nil {
            for f in fds { close(f) }
            return reply(socket, error: "attach: container \(id) was not created with stdin")
        }
        for f in fds.dropFirst() { try? FileDescriptor(rawValue: f).setNonBlocking() }
        if !wantsInput { close(fds[0]) }
        attachments[socket.fd.rawValue] = Attachment(containerID: id, stdin: wantsInput ? fds[0] : nil, stdout: fds[1], stderr: fds[2])
        reply(socket, ["tty": container.spec.tty ? "1" : "0"])
    }

    /// `resize id=<container> rows=<n> cols=<n>`: the tty container's window size.
    func handleResize(_ socket: UnixSocket, _ request: Records) {
        guard let id = request.string("id"), let rows = request.int("rows"), let cols = request.int("cols"),
              rows > 0, rows <= Int(UInt16.max), cols > 0, cols <= Int(UInt16.max) else {
            return reply(socket, error: "resize: missing id, or rows/cols outside 1...65535")
        }
        guard let master = containers[id]?.ptyMaster else { return reply(socket, error: "resize: container \(id) has no terminal") }
        do {
            try PseudoTerminal.setWindowSize(FileDescriptor(rawValue: master), rows: UInt16(rows), columns: UInt16(cols))
            reply(socket, [:])
        } catch {
            reply(socket, error: "\(error)")
        }
    }

    /// Output of `containerID` on `stream` (0 stdout, 1 stderr) to every attached client.
    func copyToAttachments(_ containerID: String, stream: Int, _ bytes: UnsafeRawBufferPointer) {
        guard !attachments.isEmpty, let base = bytes.baseAddress else { return }
        for a in attachments.values where a.containerID == containerID {
            let fd = stream == 0 ? a.stdout : a.stderr
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, base + offset, bytes.count - offset)
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
        }
    }

    /// Input from an attached client, to its container's stdin.
    func forwardAttachedInput(_ fd: Int32) {
        guard let (connection, attachment) = attachments.first(where: { $0.value.stdin == fd }) else { return }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else {
            // The client closed its input: stop reading it; stdin_once closes the container's.
            close(fd)
            attachments[connection]?.stdin = nil
            if var c = containers[attachment.containerID], c.spec.stdinOnce, let input = c.stdinFD {
                if input != c.ptyMaster { close(input) }
                c.stdinFD = nil
                containers[attachment.containerID] = c
            }
            return
        }
        guard let input = containers[attachment.containerID]?.stdinFD else { return }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < n {
                let w = write(input, raw.baseAddress! + offset, n - offset)
                if w > 0 { offset += w; continue }
                if w < 0 && errno == EINTR { continue }
                if w < 0 && errno == EAGAIN {
                    // The container is not reading: wait for it rather than drop typed input.
                    var p = pollfd(fd: input, events: Int16(POLLOUT), revents: 0)
                    if poll(&p, 1, 1000) > 0 { continue }
                }
                break
            }
        }
    }

    /// The container exited: tell its attached clients and let them go.
    func finishAttachments(of containerID: String, exitCode: Int32) {
        for (connection, a) in attachments where a.containerID == containerID {
            var r = Records()
            r.append("exit_code", exitCode)
            try? UnixSocket(fd: FileDescriptor(rawValue: connection)).send(r)
            close(a.stdout)
            close(a.stderr)
            if let input = a.stdin { close(input) }
            attachments.removeValue(forKey: connection)
        }
    }

    /// The client's connection went away.
    func detach(connection: Int32) {
        guard let a = attachments.removeValue(forKey: connection) else { return }
        close(a.stdout)
        close(a.stderr)
        if let input = a.stdin {
            close(input)
            if var c = containers[a.containerID], c.spec.stdinOnce, let fd = c.stdinFD {
                if fd != c.ptyMaster { close(fd) }
                c.stdinFD = nil
                containers[a.containerID] = c
            }
        }
    }
}
