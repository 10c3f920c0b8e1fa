import CLinux
import Glibc

/// A process started in a container: its pid and a pidfd that names it without pid reuse races.
public struct SpawnedProcess: Sendable, Equatable {
    public let pid: pid_t
    public let pidfd: FileDescriptor
}

/// Translates a `ContainerSpawnSpec` into the C struct and calls the async-signal-safe spawn
/// code in CLinux. Used by the shim, which is single-threaded; the C side forks there.
public enum ContainerSpawner {
    /// Starts the container's init process with the given stdio descriptors.
    public static func spawnContainer(_ spec: ContainerSpawnSpec, stdin: Int32, stdout: Int32, stderr: Int32) throws -> SpawnedProcess {
        try withCSpec(spec, stdin: stdin, stdout: stdout, stderr: stderr) { cspec in
            var pidfd: Int32 = -1
            var error = clinux_spawn_error()
            let pid = clinux_spawn_container(cspec, &pidfd, &error)
            if pid < 0 { throw spawnError(error) }
            return SpawnedProcess(pid: pid, pidfd: FileDescriptor(rawValue: pidfd))
        }
    }

    /// Starts a process inside the running container whose init is `target` (`exec`).
    public static func spawnExec(into target: FileDescriptor, _ spec: ContainerSpawnSpec, stdin: Int32, stdout: Int32, stderr: Int32) throws -> SpawnedProcess {
        try withCSpec(spec, stdin: stdin, stdout: stdout, stderr: stderr) { cspec in
            var pidfd: Int32 = -1
            var error = clinux_spawn_error()
            let pid = clinux_spawn_exec(target.rawValue, cspec, &pidfd, &error)
            if pid < 0 { throw spawnError(error) }
            return SpawnedProcess(pid: pid, pidfd: FileDescriptor(rawValue: pidfd))
        }
    }

    static func spawnError(_ error: clinux_spawn_error) -> SystemError {
        let what = withUnsafeBytes(of: error.what) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        return SystemError(String(cString: clinux_spawn_step_name(error.step)), errno: error.err, path: what.isEmpty ? nil : what)
    }

    /// Builds the C struct with every string and array alive for the duration of `body`.
    static func withCSpec<R>(_ spec: ContainerSpawnSpec, stdin: Int32, stdout: Int32, stderr: Int32,
                             _ body: (UnsafePointer<clinux_container_spec>) throws -> R) throws -> R {
        let arena = CStringArena()
        var cgroupFD: Int32 = -1
        if !spec.cgroupDir.isEmpty {
            cgroupFD = try syscall("open(cgroup)", path: spec.cgroupDir) { open(spec.cgroupDir, Int32(CLINUX_O_PATH) | O_DIRECTORY | O_CLOEXEC) }
        }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }

        var mounts = spec.mounts.map { m in
            clinux_mount(kind: m.kind.rawValue, source: arena.c(m.source), target: arena.c(m.targetInContainer),
                         fstype: m.fsType.isEmpty ? nil : arena.c(m.fsType), flags: m.flags,
                         data: m.data.isEmpty ? nil : arena.c(m.data), target_is_file: m.targetIsFile ? 1 : 0)
        }
        var masked: [UnsafePointer<CChar>?] = spec.maskedPaths.map { arena.c($0) }
        var readonly: [UnsafePointer<CChar>?] = spec.readOnlyPaths.map { arena.c($0) }
        var argv: [UnsafePointer<CChar>?] = spec.argv.map { arena.c($0) } + [nil]
        var envp: [UnsafePointer<CChar>?] = spec.env.map { arena.c($0) } + [nil]
        var groups = spec.groups
        var bpf = spec.seccompBPF

        return try mounts.withUnsafeMutableBufferPointer { mountsPtr in
            try masked.withUnsafeMutableBufferPointer { maskedPtr in
                try readonly.withUnsafeMutableBufferPointer { readonlyPtr in
                    try argv.withUnsafeMutableBufferPointer { argvPtr in
                        try envp.withUnsafeMutableBufferPointer { envPtr in
                            try groups.withUnsafeMutableBufferPointer { groupsPtr in
                                try bpf.withUnsafeMutableBytes { bpfPtr in
                                    var c = clinux_container_spec()
                                    c.rootfs = arena.c(spec.rootfs)
                                    c.overlay_lowerdirs = spec.lowerDirs.isEmpty ? nil : arena.c(spec.lowerDirs.joined(separator: ":"))
                                    c.overlay_upperdir = spec.upperDir.isEmpty ? nil : arena.c(spec.upperDir)
                                    c.overlay_workdir = spec.workDir.isEmpty ? nil : arena.c(spec.workDir)
                                    c.readonly_rootfs = spec.readOnlyRootfs ? 1 : 0
                                    c.privileged = spec.privileged ? 1 : 0
                                    c.shm_source = spec.shmSource.isEmpty ? nil : arena.c(spec.shmSource)
                                    c.mounts = UnsafePointer(mountsPtr.baseAddress)
                                    c.n_mounts = mountsPtr.count
                                    c.masked_paths = UnsafePointer(maskedPtr.baseAddress)
                                    c.n_masked = maskedPtr.count
                                    c.readonly_paths = UnsafePointer(readonlyPtr.baseAddress)
                                    c.n_readonly = readonlyPtr.count
                                    c.argv = UnsafePointer(argvPtr.baseAddress)
                                    c.envp = UnsafePointer(envPtr.baseAddress)
                                    c.cwd = arena.c(spec.workingDir)
                                    c.uid = spec.uid
                                    c.gid = spec.gid
                                    c.groups = UnsafePointer(groupsPtr.baseAddress)
                                    c.n_groups = groupsPtr.count
                                    c.cap_bounding = spec.capBounding
                                    c.cap_effective = spec.capEffective
                                    c.cap_permitted = spec.capPermitted
                                    c.cap_inheritable = spec.capInheritable
                                    c.cap_ambient = spec.capAmbient
                                    c.no_new_privs = spec.noNewPrivileges ? 1 : 0
                                    c.seccomp_filter = bpfPtr.isEmpty ? nil : UnsafeRawPointer(bpfPtr.baseAddress)
                                    c.seccomp_len = bpfPtr.count / 8
                                    c.oom_score_adj = spec.oomScoreAdj ?? 0
                                    c.set_oom_score_adj = spec.oomScoreAdj == nil ? 0 : 1
                                    c.new_pid_ns = spec.newPIDNamespace ? 1 : 0
                                    c.new_uts_ns = spec.newUTSNamespace ? 1 : 0
                                    c.hostname = spec.hostname.isEmpty ? nil : arena.c(spec.hostname)
                                    c.cgroup_fd = cgroupFD
                                    c.stdin_fd = stdin
                                    c.stdout_fd = stdout
                                    c.stderr_fd = stderr
                                    c.set_ctty = spec.tty ? 1 : 0
                                    return try withUnsafePointer(to: &c) { try body($0) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Owns C copies of Swift strings until it is released.
final class CStringArena {
    private var pointers: [UnsafeMutablePointer<CChar>] = []

    func c(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        pointers.append(p)
        return UnsafePointer(p)
    }

    deinit { for p in pointers { free(p) } }
}
