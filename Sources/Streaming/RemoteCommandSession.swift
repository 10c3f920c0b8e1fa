import Foundation
import Glibc
import LinuxPrimitives
import NIOCore
import NIOPosix

typealias FileDescriptor = LinuxPrimitives.FileDescriptor

/// An exec or an attach over any transport: the process's stdio are pipes (or one pty) whose
/// far ends go to the runtime, and whose near ends are NIO pipe channels on the connection's
/// event loop. The session ends when the process has exited (attach: the container, or the
/// client) and its output is drained; then the status goes out on the error stream.
final class RemoteCommandSession: StreamSession {
    enum Kind {
        case exec(ExecOptions)
        case attach(AttachOptions)
    }

    let kind: Kind
    let runtime: any StreamingRuntime
    let statusFormat: StatusFormat
    private var transport: (any StreamTransport)?
    private var stdinChannel: (any Channel)?
    private var outputChannels: [UInt8: any Channel] = [:]
    private var openOutputs = 0
    /// Our copies of the descriptors handed to the runtime, closed once it no longer needs them.
    private var childEnds: [FileDescriptor] = []
    /// A dup of the exec's pty master, for window-size changes.
    private var ptyMaster: FileDescriptor?
    private var outcome: RemoteCommandOutcome?
    private var attachment: (any StreamingAttachment)?
    private var execTask: Task<Void, Never>?
    private var pendingStdin: [ByteBuffer] = []
    private var resizeBuffer: [UInt8] = []
    private var finished = false

    init(kind: Kind, runtime: any StreamingRuntime, statusFormat: StatusFormat) {
        self.kind = kind
        self.runtime = runtime
        self.statusFormat = statusFormat
    }

    var tty: Bool {
        switch kind {
        case .exec(let o): return o.tty
        case .attach(let o): return o.tty
        }
    }

    var wantsStdin: Bool {
        switch kind {
        case .exec(let o): return o.stdin
        case .attach(let o): return o.stdin
        }
    }

    func start(transport: any StreamTransport) {
        self.transport = transport
        // kubelet's servers send an empty message on the lowest writable stream first: the
        // client takes it as "connected".
        let (stdout, stderr) = wantsOutput
        let first = stdout ? RemoteStream.stdout : (stderr ? RemoteStream.stderr : RemoteStream.error)
        transport.send(first, transport.allocator.buffer(capacity: 0))
        do {
            switch kind {
            case .exec(let options): try startExec(options, transport)
            case .attach(let options): try startAttach(options, transport)
            }
        } catch {
            end(.failure("\(error)"))
        }
    }

    var wantsOutput: (stdout: Bool, stderr: Bool) {
        switch kind {
        case .exec(let o): return (o.stdout, o.stderr)
        case .attach(let o): return (o.stdout, o.stderr)
        }
    }

    // MARK: setting up the descriptors

    private func startExec(_ options: ExecOptions, _ transport: any StreamTransport) throws {
        let loop = transport.eventLoop
        if options.tty {
            let pty = try PseudoTerminal.open()
            childEnds.append(pty.slave)
            ptyMaster = FileDescriptor(rawValue: dup(pty.master.rawValue))
            attachOutput(fd: pty.master, stream: RemoteStream.stdout, inputToo: true, loop: loop)
            launchExec(options, stdin: pty.slave.rawValue, stdout: pty.slave.rawValue, stderr: pty.slave.rawValue, loop: loop)
            return
        }
        let input = try inputEnd(options.stdin, loop: loop)
        let out = try outputEnd(options.stdout, stream: RemoteStream.stdout, loop: loop)
        let err = try outputEnd(options.stderr, stream: RemoteStream.stderr, loop: loop)
        launchExec(options, stdin: input.rawValue, stdout: out.rawValue, stderr: err.rawValue, loop: loop)
    }

    private func launchExec(_ options: ExecOptions, stdin: Int32, stdout: Int32, stderr: Int32, loop: any EventLoop) {
        let runtime = self.runtime
        let promise = loop.makePromise(of: Int32.self)
        // Cancelled when the client goes away: the runtime then kills the process.
        execTask = Task {
            do { promise.succeed(try await runtime.exec(options, stdin: stdin, stdout: stdout, stderr: stderr)) } catch { promise.fail(error) }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            // The process is gone: our copies of its descriptors go too, so the output
            // channels see end-of-file once every other holder has closed them.
            self.closeChildEnds()
            switch result {
            case .success(let code): self.processEnded(code == 0 ? .success : .exitCode(code))
            case .failure(let error): self.processEnded(.failure("\(error)"))
            }
        }
    }

    private func startAttach(_ options: AttachOptions, _ transport: any StreamTransport) throws {
        let loop = transport.eventLoop
        let input = options.stdin ? try inputEnd(true, loop: loop) : nil
        let out = try outputEnd(options.stdout, stream: RemoteStream.stdout, loop: loop)
        let err = try outputEnd(options.stderr, stream: RemoteStream.stderr, loop: loop)
        let runtime = self.runtime
        let stdinFD = input?.rawValue
        let (outFD, errFD) = (out.rawValue, err.rawValue)
        loop.makeFutureWithTask {
            try await runtime.attach(options, stdin: stdinFD, stdout: outFD, stderr: errFD)
        }.assumeIsolated().whenComplete { result in
            // The runtime holds its own copies now.
            self.closeChildEnds()
            switch result {
            case .failure(let error):
                self.processEnded(.failure("\(error)"))
            case .success(let attachment):
                if self.finished {
                    attachment.close()
                    return
                }
                self.attachment = attachment
                loop.makeFutureWithTask { await attachment.wait() }.assumeIsolated().whenComplete { _ in
                    self.processEnded(.success)
                }
            }
        }
    }

    /// The process's stdin: a pipe whose write end is ours, or /dev/null.
    private func inputEnd(_ wanted: Bool, loop: any EventLoop) throws -> FileDescriptor {
        guard wanted else {
            let devnull = try FileDescriptor.open("/dev/null", O_RDONLY)
            childEnds.append(devnull)
            return devnull
        }
        let pipe = try FileDescriptor.pipe()
        childEnds.append(pipe.read)
        NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(output: pipe.write.rawValue).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                if self.finished {
                    channel.close(promise: nil)
                    return
                }
                self.stdinChannel = channel
                for buffer in self.pendingStdin { channel.write(buffer, promise: nil) }
                self.pendingStdin.removeAll()
                channel.flush()
            case .failure:
                pipe.write.close()
            }
        }
        return pipe.read
    }

    /// One of the process's outputs: a pipe whose read end we read, or /dev/null.
    private func outputEnd(_ wanted: Bool, stream: UInt8, loop: any EventLoop) throws -> FileDescriptor {
        guard wanted else {
            let devnull = try FileDescriptor.open("/dev/null", O_WRONLY)
            childEnds.append(devnull)
            return devnull
        }
        let pipe = try FileDescriptor.pipe()
        childEnds.append(pipe.write)
        attachOutput(fd: pipe.read, stream: stream, inputToo: false, loop: loop)
        return pipe.write
    }

    private func attachOutput(fd: FileDescriptor, stream: UInt8, inputToo: Bool, loop: any EventLoop) {
        openOutputs += 1
        let session = NIOLoopBound(self, eventLoop: loop)
        let bootstrap = NIOPipeBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutputForwarder(stream: stream, session: session))
                }
            }
        let future = inputToo ? bootstrap.takingOwnershipOfDescriptor(inputOutput: fd.rawValue)
                              : bootstrap.takingOwnershipOfDescriptor(input: fd.rawValue)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                self.outputChannels[stream] = channel
                if inputToo {
                    self.stdinChannel = channel
                    for buffer in self.pendingStdin { channel.write(buffer, promise: nil) }
                    self.pendingStdin.removeAll()
                    channel.flush()
                }
                if self.finished { channel.close(promise: nil) }
            case .failure:
                fd.close()
                self.outputEnded(stream)
            }
        }
    }

    private func closeChildEnds() {
        for fd in childEnds { fd.close() }
        childEnds.removeAll()
    }

    // MARK: data

    func output(_ stream: UInt8, _ buffer: ByteBuffer) {
        transport?.send(stream, buffer)
    }

    func outputEnded(_ stream: UInt8) {
        outputChannels[stream] = nil
        openOutputs -= 1
        finishIfDone()
    }

    func received(_ stream: UInt8, _ bytes: ByteBuffer) {
        switch stream {
        case RemoteStream.stdin:
            guard wantsStdin else { return }
            if let stdinChannel { stdinChannel.writeAndFlush(bytes, promise: nil) } else { pendingStdin.append(bytes) }
        case RemoteStream.resize:
            resizeBuffer.append(contentsOf: bytes.readableBytesView)
            for size in TerminalSizeStream.extract(&resizeBuffer) { resize(size) }
        default:
            break
        }
    }

    private func resize(_ size: TerminalSize) {
        guard tty, size.width > 0, size.height > 0 else { return }
        switch kind {
        case .exec:
            if let ptyMaster { try? PseudoTerminal.setWindowSize(ptyMaster, rows: size.height, columns: size.width) }
        case .attach(let options):
            let runtime = self.runtime
            Task { try? await runtime.resize(containerID: options.containerID, to: size) }
        }
    }

    func remoteClosed(_ stream: UInt8) {
        guard stream == RemoteStream.stdin else { return }
        // A terminal's input cannot be closed without its output: the pty stays.
        if tty, case .exec = kind { return }
        stdinChannel?.close(promise: nil)
        stdinChannel = nil
    }

    // MARK: the end

    private func processEnded(_ result: RemoteCommandOutcome) {
        guard outcome == nil else { return }
        outcome = result
        if case .failure = result {
            // Nothing more will come: do not wait for outputs that may never have started.
            for channel in outputChannels.values { channel.close(promise: nil) }
        }
        finishIfDone()
        // Output held open by a background child must not keep the stream forever.
        transport?.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { self.end(result) }
    }

    private func finishIfDone() {
        guard let outcome, openOutputs <= 0 else { return }
        end(outcome)
    }

    private func end(_ result: RemoteCommandOutcome) {
        guard !finished, let transport else { return }
        finished = true
        if let bytes = result.encoded(statusFormat) {
            transport.send(RemoteStream.error, transport.allocator.buffer(bytes: bytes))
        }
        release()
        transport.finish()
    }

    func transportClosed() {
        finished = true
        release()
    }

    private func release() {
        stdinChannel?.close(promise: nil)
        stdinChannel = nil
        for channel in outputChannels.values { channel.close(promise: nil) }
        outputChannels.removeAll()
        attachment?.close()
        attachment = nil
        execTask?.cancel()
        execTask = nil
        ptyMaster?.close()
        ptyMaster = nil
        if outcome != nil || childEnds.isEmpty { closeChildEnds() }
    }
}

/// Reads one output of the process and hands it to its session.
final class OutputForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let stream: UInt8
    let session: NIOLoopBound<RemoteCommandSession>

    init(stream: UInt8, session: NIOLoopBound<RemoteCommandSession>) {
        self.stream = stream
        self.session = session
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.value.output(stream, unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.value.outputEnded(stream)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // EIO on a pty master once the terminal's last user is gone: the end of output.
        context.close(promise: nil)
    }
}

/// Terminal sizes from the resize stream: JSON objects, possibly split or several per message.
enum TerminalSizeStream {
    static func extract(_ buffer: inout [UInt8]) -> [TerminalSize] {
        var sizes: [TerminalSize] = []
        while let open = buffer.firstIndex(of: UInt8(ascii: "{")), let close = buffer[open...].firstIndex(of: UInt8(ascii: "}")) {
            if let size = try? JSONDecoder().decode(TerminalSize.self, from: Data(buffer[open...close])) { sizes.append(size) }
            buffer.removeSubrange(..<buffer.index(after: close))
        }
        if buffer.count > 4096 { buffer.removeAll() }
        return sizes
    }
}
