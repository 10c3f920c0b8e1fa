import Glibc
import LinuxPrimitives

/// A container's stdio as the shim sets it up: the child's ends (stdin, stdout, stderr) and
/// the shim's ends (output to read, input to write).
///
/// - tty: one pseudo-terminal; the slave is all three of the child's descriptors, the master is
///   both the output (logged as stdout) and where attached input goes.
/// - stdin without tty: a pipe for stdin, two pipes for stdout and stderr.
/// - neither: /dev/null for stdin, two pipes for output.
struct ContainerIO {
    let childStdin: Int32
    let childStdout: Int32
    let childStderr: Int32
    /// Read ends of the output, in stream order (0 stdout, 1 stderr).
    let outputs: [Int32]
    let stdinWriter: Int32?
    let ptyMaster: Int32?
    private let childEnds: [Int32]

    init(_ spec: ContainerSpawnSpec) throws {
        if spec.tty {
            let pty = try PseudoTerminal.open()
            childStdin = pty.slave.rawValue
            childStdout = pty.slave.rawValue
            childStderr = pty.slave.rawValue
            outputs = [pty.master.rawValue]
            stdinWriter = spec.openStdin ? pty.master.rawValue : nil
            ptyMaster = pty.master.rawValue
            childEnds = [pty.slave.rawValue]
            return
        }
        var opened: [Int32] = []
        do {
            let out = try FileDescriptor.pipe()
            opened += [out.read.rawValue, out.write.rawValue]
            let err = try FileDescriptor.pipe()
            opened += [err.read.rawValue, err.write.rawValue]
            if spec.openStdin {
                let input = try FileDescriptor.pipe()
                opened += [input.read.rawValue, input.write.rawValue]
                childStdin = input.read.rawValue
                stdinWriter = input.write.rawValue
            } else {
                let devnull = try FileDescriptor.open("/dev/null", O_RDONLY)
                opened.append(devnull.rawValue)
                childStdin = devnull.rawValue
                stdinWriter = nil
            }
            childStdout = out.write.rawValue
            childStderr = err.write.rawValue
            outputs = [out.read.rawValue, err.read.rawValue]
            ptyMaster = nil
            childEnds = [childStdin, out.write.rawValue, err.write.rawValue]
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
    }

    /// After the spawn: the child holds its own copies.
    func closeChildEnds() {
        for fd in Set(childEnds) { close(fd) }
    }

    /// After a failed spawn: nothing stays open.
    func closeAll() {
        closeChildEnds()
        for fd in Set(outputs + (stdinWriter.map { [$0] } ?? [])) { close(fd) }
    }
}
