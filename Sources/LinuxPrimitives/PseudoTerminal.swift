import CLinux
import Glibc

/// Pseudo-terminals for interactive containers and `exec -t`: whoever holds the master end
/// reads what the process writes to its terminal and writes what it types; the slave end
/// becomes the process's stdin, stdout, stderr and controlling terminal.
public enum PseudoTerminal {
    /// A new pty pair, both ends close-on-exec.
    public static func open() throws -> (master: FileDescriptor, slave: FileDescriptor) {
        var master: Int32 = -1
        var slave: Int32 = -1
        try syscall("openpty") { clinux_openpty(&master, &slave) }
        return (FileDescriptor(rawValue: master), FileDescriptor(rawValue: slave))
    }

    /// The terminal's size as the program in it sees it (TIOCSWINSZ; it gets SIGWINCH).
    public static func setWindowSize(_ fd: FileDescriptor, rows: UInt16, columns: UInt16) throws {
        try syscall("ioctl(TIOCSWINSZ)") { clinux_set_winsize(fd.rawValue, rows, columns) }
    }

    public static func windowSize(_ fd: FileDescriptor) throws -> (rows: UInt16, columns: UInt16) {
        var rows: UInt16 = 0
        var columns: UInt16 = 0
        try syscall("ioctl(TIOCGWINSZ)") { clinux_get_winsize(fd.rawValue, &rows, &columns) }
        return (rows, columns)
    }
}
