import CLinux
import Glibc

/// Leaves the kernel's slow clean-up of a plugin's last netlink work to a child process that
/// outlives the plugin, so the runtime gets its answer without waiting for it.
///
/// Two kernel operations end in an RCU grace period (milliseconds, more on a busy node) that
/// the caller sits through: closing an nftables socket after a commit (the kernel flushes the
/// retired transaction) and deleting a network device. The child shares our open files, so
/// when we exit the sockets stay open in it: it does `work` (if any), waits for us to exit,
/// and exits, paying those waits itself. Everything that matters is already done or in its
/// hands before we return: the nftables commit is complete, and a device being deleted has
/// already been taken out of service by the caller (down, renamed, no addresses).
///
/// Call it last, with no other thread running and no lock file open (the child holds every
/// descriptor we hold). If fork fails, `work` runs here, and we wait like anyone else.
enum Afterlife {
    static func hand(_ work: () -> Void = {}) {
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
}
