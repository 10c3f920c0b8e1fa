import CLinux
import Glibc
import LinuxPrimitives

/// Leaves the kernel's slow clean-up of a plugin's last netlink work to someone other than
/// the caller, so the runtime gets its answer without waiting for it.
///
/// Two kernel operations end in an RCU grace period (milliseconds, more on a busy node) that
/// the caller sits through: closing an nftables socket after a commit (the kernel flushes the
/// retired transaction) and deleting a network device. Everything that matters is already
/// done or handed over before we return: the nftables commit is complete, and a device being
/// deleted has already been taken out of service by the caller (down, renamed, no addresses).
///
/// How depends on where the plugin runs (`PluginRequest.afterlife`):
/// - `.child`, a plugin executable: a child process that outlives us shares our open files,
///   so when we exit the sockets stay open in it; it does `work` (if any), waits for us to
///   exit, and exits, paying those waits itself. Call it last, with no other thread running
///   and no lock file open (the child holds every descriptor we hold). If fork fails, `work`
///   runs here, and we wait like anyone else.
/// - `.thread`, a plugin run inside the agent (a multi-threaded process must not fork to run
///   Swift code): a detached thread does `work` and then lets go of `keeping` (the open
///   nftables client), whose close is the wait. It touches only objects handed to it.
public enum Afterlife: Sendable {
    case child
    case thread

    func hand(keeping kept: consuming AnyObject? = nil, _ work: @escaping () -> Void = {}) {
        switch self {
        case .child: Afterlife.forkChild(work)
        case .thread: Afterlife.detachThread(Parcel(kept: kept, work: work))
        }
    }

    static func forkChild(_ work: () -> Void) {
        var fds: [Int32] = [0, 0]
        guard clinux_pipe2(&fds, O_CLOEXEC) == 0 else { work(); return }
        let pid = clinux_fork()
        if pid < 0 {
            close(fds[0]); close(fds[1])
            work()
            return
        }
        if pid == 0 {
            // The child: let go of the runtime's pipes at once, so it sees our end of output
            // when the parent exits, then finish and wait for the parent to be gone.
            close(fds[1])
            for fd: Int32 in 0...2 { close(fd) }
            work()
            var byte: UInt8 = 0
            while read(fds[0], &byte, 1) < 0 && errno == EINTR {}
            _exit(0)
        }
        // The parent keeps the pipe's write end until it exits: that is the child's signal.
        close(fds[0])
    }

    /// What the thread gets: the work and the objects it must outlive. Handed over whole (the
    /// plugin keeps no reference), so no other thread touches them meanwhile.
    final class Parcel: @unchecked Sendable {
        var kept: AnyObject?
        var work: (() -> Void)?
        init(kept: AnyObject?, work: @escaping () -> Void) {
            self.kept = kept
            self.work = work
        }

        func run() {
            work?()
            work = nil
            kept = nil  // the last reference: a socket closes here, off the caller's path
        }
    }

    static func detachThread(_ parcel: Parcel) {
        do {
            try DetachedThread.start { parcel.run() }
        } catch {
            // No thread to be had: pay the wait here.
            parcel.run()
        }
    }
}
