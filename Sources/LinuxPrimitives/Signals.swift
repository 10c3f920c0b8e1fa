import Glibc

/// Signal names as images (`StopSignal`) and users write them.
public enum Signals {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "BUS": SIGBUS,
        "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
        "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU,
        "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO,
        "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// `SIGTERM`, `TERM` or `15`; nil for empty or unknown names.
    public static func number(_ name: String) -> Int32? {
        if name.isEmpty { return nil }
        if let n = Int32(name), n > 0, n < 65 { return n }
        var upper = name.uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        return table[upper]
    }
}
