/// Everything the shim needs to start a container process (or an exec in one), decided by the
/// agent and written to disk next to the container, so the shim only translates it into the C
/// struct `clinux_spawn_container` reads. Paths are host paths unless named `...InContainer`.
public struct ContainerSpawnSpec: Sendable, Equatable {
    public struct Mount: Sendable, Equatable {
        public enum Kind: Int32, Sendable { case filesystem = 0, bind = 1 }
        public var kind: Kind
        public var source: String
        public var targetInContainer: String
        public var fsType: String
        public var flags: UInt
        public var data: String
        public var targetIsFile: Bool

        public init(kind: Kind, source: String, target: String, fsType: String = "", flags: UInt = 0, data: String = "", targetIsFile: Bool = false) {
            self.kind = kind
            self.source = source
            self.targetInContainer = target
            self.fsType = fsType
            self.flags = flags
            self.data = data
            self.targetIsFile = targetIsFile
        }
    }

    public var containerID: String = ""
    public var rootfs: String = ""
    /// Overlay lower layers, top first; empty when `rootfs` is used as it is.
    public var lowerDirs: [String] = []
    public var upperDir: String = ""
    public var workDir: String = ""
    public var readOnlyRootfs = false
    public var privileged = false
    public var shmSource: String = ""
    public var mounts: [Mount] = []
    public var maskedPaths: [String] = []
    public var readOnlyPaths: [String] = []

    public var argv: [String] = []
    public var env: [String] = []
    public var workingDir: String = "/"
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var groups: [UInt32] = []
    public var capBounding: UInt64 = 0
    public var capEffective: UInt64 = 0
    public var capPermitted: UInt64 = 0
    public var capInheritable: UInt64 = 0
    public var capAmbient: UInt64 = 0
    public var noNewPrivileges = false
    /// A compiled seccomp program: `struct sock_filter` instructions, 8 bytes each.
    public var seccompBPF: [UInt8] = []
    public var oomScoreAdj: Int32? = nil

    public var newPIDNamespace = true
    public var newUTSNamespace = false
    public var hostname: String = ""
    /// The container's cgroup directory (absolute), entered atomically with CLONE_INTO_CGROUP.
    public var cgroupDir: String = ""
    /// CRI log file the shim appends the container's stdout/stderr to.
    public var logPath: String = ""
    /// The process gets a pseudo-terminal (stdin, stdout and stderr on its slave end) that is
    /// also its controlling terminal; for exec the caller passes the slave, for a container the
    /// shim makes the pair and keeps the master.
    public var tty = false
    /// Keep a stdin open for the container (CRI `stdin`): the shim writes what attached
    /// clients send; without it stdin is /dev/null.
    public var openStdin = false
    /// Close the container's stdin when the first attached client detaches (CRI `stdin_once`).
    public var stdinOnce = false

    public init() {}

    public func records() -> Records {
        var r = Records()
        r.append("id", containerID)
        r.append("rootfs", rootfs)
        for l in lowerDirs { r.append("lower", l) }
        r.append("upper", upperDir)
        r.append("work", workDir)
        r.append("ro_rootfs", readOnlyRootfs)
        r.append("privileged", privileged)
        r.append("shm", shmSource)
        for m in mounts {
            var mr = Records()
            mr.append("kind", m.kind.rawValue)
            mr.append("source", m.source)
            mr.append("target", m.targetInContainer)
            mr.append("fstype", m.fsType)
            mr.append("flags", m.flags)
            mr.append("data", m.data)
            mr.append("file", m.targetIsFile)
            r.append("mount", mr.encoded())
        }
        for p in maskedPaths { r.append("masked", p) }
        for p in readOnlyPaths { r.append("readonly", p) }
        for a in argv { r.append("arg", a) }
        for e in env { r.append("env", e) }
        r.append("cwd", workingDir)
        r.append("uid", uid)
        r.append("gid", gid)
        for g in groups { r.append("group", g) }
        r.append("cap_bnd", capBounding)
        r.append("cap_eff", capEffective)
        r.append("cap_prm", capPermitted)
        r.append("cap_inh", capInheritable)
        r.append("cap_amb", capAmbient)
        r.append("nnp", noNewPrivileges)
        r.append("seccomp", seccompBPF)
        if let oomScoreAdj { r.append("oom_score_adj", oomScoreAdj) }
        r.append("new_pid", newPIDNamespace)
        r.append("new_uts", newUTSNamespace)
        r.append("hostname", hostname)
        r.append("cgroup", cgroupDir)
        r.append("log", logPath)
        r.append("tty", tty)
        r.append("stdin", openStdin)
        r.append("stdin_once", stdinOnce)
        return r
    }

    public init?(records r: Records) {
        guard let id = r.string("id"), let rootfs = r.string("rootfs") else { return nil }
        containerID = id
        self.rootfs = rootfs
        lowerDirs = r.strings("lower")
        upperDir = r.string("upper") ?? ""
        workDir = r.string("work") ?? ""
        readOnlyRootfs = r.bool("ro_rootfs")
        privileged = r.bool("privileged")
        shmSource = r.string("shm") ?? ""
        for field in r.fields where field.key == "mount" {
            guard let mr = Records.decode(field.value), let kind = mr.int("kind").flatMap({ Mount.Kind(rawValue: Int32($0)) }) else { return nil }
            mounts.append(Mount(kind: kind, source: mr.string("source") ?? "", target: mr.string("target") ?? "",
                                fsType: mr.string("fstype") ?? "", flags: UInt(mr.string("flags") ?? "0") ?? 0,
                                data: mr.string("data") ?? "", targetIsFile: mr.bool("file")))
        }
        maskedPaths = r.strings("masked")
        readOnlyPaths = r.strings("readonly")
        argv = r.strings("arg")
        env = r.strings("env")
        workingDir = r.string("cwd") ?? "/"
        uid = UInt32(r.string("uid") ?? "0") ?? 0
        gid = UInt32(r.string("gid") ?? "0") ?? 0
        groups = r.strings("group").compactMap { UInt32($0) }
        capBounding = UInt64(r.string("cap_bnd") ?? "0") ?? 0
        capEffective = UInt64(r.string("cap_eff") ?? "0") ?? 0
        capPermitted = UInt64(r.string("cap_prm") ?? "0") ?? 0
        capInheritable = UInt64(r.string("cap_inh") ?? "0") ?? 0
        capAmbient = UInt64(r.string("cap_amb") ?? "0") ?? 0
        noNewPrivileges = r.bool("nnp")
        seccompBPF = r.bytes("seccomp") ?? []
        oomScoreAdj = r.int("oom_score_adj").map { Int32(truncatingIfNeeded: $0) }
        newPIDNamespace = r.bool("new_pid")
        newUTSNamespace = r.bool("new_uts")
        hostname = r.string("hostname") ?? ""
        cgroupDir = r.string("cgroup") ?? ""
        logPath = r.string("log") ?? ""
        tty = r.bool("tty")
        openStdin = r.bool("stdin")
        stdinOnce = r.bool("stdin_once")
    }
}
