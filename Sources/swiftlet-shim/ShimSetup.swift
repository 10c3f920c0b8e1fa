import CLinux
import Glibc
import LinuxPrimitives
import ShimProtocol

/// The pod sandbox as the shim makes it: its own cgroup leaf, new net/ipc/uts (and pid)
/// namespaces pinned as nsfs bind mounts, loopback up, the pod's /dev/shm.
enum ShimSetup {
    /// Returns the pid of the pause process when the pod shares one pid namespace.
    static func createSandbox(_ config: ShimConfig, sandboxDir: String) throws -> pid_t? {
        // Normally the agent started us inside our cgroup already (CLONE_INTO_CGROUP); moving a
        // running process is the slow path (a cgroup-wide RCU synchronisation).
        if !config.cgroupDir.isEmpty, !config.cgroupDir.hasSuffix(CgroupHierarchy.ownCgroup() ?? "\u{0}") {
            try FileSystem.writeControl(config.cgroupDir + "/cgroup.procs", "0")
        }
        // Last in line for the OOM killer, as containerd's shim is; lowering needs
        // CAP_SYS_RESOURCE, so without it the default stays (the shim is outside pod cgroups anyway).
        try? FileSystem.writeControl("/proc/self/oom_score_adj", "-998")
        try syscall("prctl(PR_SET_CHILD_SUBREAPER)") { clinux_prctl_set_child_subreaper() }
        var kinds: [NamespaceKind] = []
        if config.newNetwork { kinds.append(.net) }
        if config.newIPC { kinds.append(.ipc) }
        if config.newUTS { kinds.append(.uts) }
        if config.sharedPID { kinds.append(.pid) }
        if !kinds.isEmpty { try Namespaces.unshare(kinds) }
        if config.newUTS && !config.hostname.isEmpty {
            try syscall("sethostname", path: config.hostname) { clinux_sethostname(config.hostname, config.hostname.utf8.count) }
        }
        if config.newNetwork {
            try syscall("ioctl(SIOCSIFFLAGS lo up)") { clinux_link_up("lo") }
        }
        for sysctl in config.sysctls {
            guard let eq = sysctl.firstIndex(of: "=") else { continue }
            let name = String(sysctl[..<eq]).replacingDots()
            try FileSystem.writeControl("/proc/sys/" + name, String(sysctl[sysctl.index(after: eq)...]))
        }
        try FileSystem.createDirectory(sandboxDir + "/ns")
        for kind in kinds where kind != .pid {
            try Namespaces.pin(kind, at: ShimProtocol.Paths.namespace(sandboxDir, kind))
        }
        var pause: pid_t? = nil
        if config.sharedPID {
            let pid = fork()
            if pid < 0 { throw SystemError.current("fork(pause)") }
            if pid == 0 { Pause.run() }
            pause = pid
            try Namespaces.pin(.pid, of: pid, at: ShimProtocol.Paths.namespace(sandboxDir, .pid))
        }
        if config.shmSize > 0 {
            let shm = ShimProtocol.Paths.shm(sandboxDir)
            try FileSystem.createDirectory(shm)
            try Mounts.tmpfs(at: shm, options: "mode=1777,size=\(config.shmSize)", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC))
        }
        return pause
    }
}

/// PID 1 of a pod's shared pid namespace: reaps orphans and waits to be killed.
enum Pause {
    static func run() -> Never {
        var all = sigset_t()
        sigemptyset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
        signal(SIGCHLD) { _ in }
        signal(SIGTERM) { _ in _exit(0) }
        signal(SIGINT) { _ in _exit(0) }
        _ = clinux_close_range(0, ~0, 0)
        while true {
            pause()
            while waitpid(-1, nil, WNOHANG) > 0 {}
        }
    }
}

extension String {
    /// `net.ipv4.ip_forward` -> `net/ipv4/ip_forward`.
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
