import CLinux
import Glibc
import LinuxPrimitives
import ShimProtocol

// swiftlet-shim SANDBOX_DIR
//
// Started by the agent (posix_spawn, new session) with stdout on a pipe. It forks once so that
// it is never the agent's child (the agent may die and be restarted; pods must not notice),
// creates the sandbox, then reports `ok <pid>` or `error <message>` on that pipe and serves
// the agent on SANDBOX_DIR/shim.sock until told to shut down.

func report(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    report("error " + message)
    exit(1)
}

// `--no-fork`: the agent started us already detached (CLONE_PARENT, own session, own cgroup).
let arguments = CommandLine.arguments
let detached = arguments.count == 3 && arguments[1] == "--no-fork"
guard let sandboxDir = arguments.last, arguments.count == (detached ? 3 : 2), sandboxDir.hasPrefix("/") else {
    fail("usage: swiftlet-shim [--no-fork] /absolute/sandbox/dir")
}
_ = clinux_close_range(3, ~0, 0)

if !detached {
    let child = fork()
    if child < 0 { fail("\(SystemError.current("fork"))") }
    if child > 0 { _exit(0) }
}

signal(SIGPIPE, SIG_IGN)
var watched: [Int32] = [SIGCHLD, SIGTERM, SIGINT]
let signals = clinux_signalfd(&watched, Int32(watched.count))
if signals < 0 { fail("\(SystemError.current("signalfd"))") }

do {
    let configPath = ShimProtocol.Paths.config(sandboxDir)
    guard let records = Records.decode(try FileSystem.readBytes(configPath)), let config = ShimConfig(records: records) else {
        fail("malformed shim config \(configPath)")
    }
    let pause = try ShimSetup.createSandbox(config, sandboxDir: sandboxDir)
    let server = try UnixSocket.listen(path: ShimProtocol.Paths.socket(sandboxDir))
    try FileSystem.writeAtomically(ShimProtocol.Paths.pidFile(sandboxDir), String(getpid()))
    report("ok \(getpid())")
    let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
    let log = open(ShimProtocol.Paths.log(sandboxDir), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
    dup2(devnull, 0)
    dup2(log >= 0 ? log : devnull, 1)
    dup2(log >= 0 ? log : devnull, 2)
    if devnull > 2 { close(devnull) }
    if log > 2 { close(log) }
    Shim(sandboxDir: sandboxDir, server: server, signals: signals, pausePID: pause).run()
} catch {
    fail("\(error)")
}
