import Foundation
import LinuxPrimitives
import LinuxSecurity
import ShimProtocol

/// Turns a container's config, its image and its sandbox into the spawn spec the shim runs:
/// the Kubernetes command/args rules, environment, user, capabilities, seccomp, mounts and the
/// masked and read-only paths containerd applies by default.
struct SpawnSpecBuilder {
    let runtime: RuntimeService
    let sandbox: SandboxRecord
    let sandboxDir: String
    let image: ResolvedImage

    static let defaultMaskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                     "/sys/firmware", "/sys/devices/virtual/powercap"]
    static let defaultReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    func build(_ config: ContainerConfig, id: String) throws -> ContainerSpawnSpec {
        var spec = ContainerSpawnSpec()
        spec.containerID = id
        spec.lowerDirs = image.layerDirs
        spec.argv = try command(config)
        spec.env = environment(config)
        spec.workingDir = !config.workingDir.isEmpty ? config.workingDir : (image.workingDir.isEmpty ? "/" : image.workingDir)
        let security = config.security
        let user = security.runAsUsername.flatMap { $0.isEmpty ? nil : $0 } ?? image.user
        let identity = try UserResolver(layers: image.layerDirs).resolve(image: user, runAsUser: security.runAsUser,
                                                                        runAsGroup: security.runAsGroup)
        spec.uid = identity.uid
        spec.gid = identity.gid
        var groups = identity.additionalGroups
        for g in security.supplementalGroups where g >= 0 && g <= Int64(UInt32.max) && !groups.contains(UInt32(g)) {
            groups.append(UInt32(g))
        }
        spec.groups = groups
        var caps = try Capabilities.effectiveSet(privileged: security.privileged, add: security.addCapabilities,
                                                 drop: security.dropCapabilities)
        // Nobody can grant what the runtime does not hold (a nested runtime, no CAP_SYS_RESOURCE):
        // privileged gets every capability there is here; an explicit add of a missing one is an error.
        let held = ProcessCapabilities.bounding()
        if security.privileged {
            caps &= held
        } else if caps & ~held != 0 {
            let missing = Capabilities.names(caps & ~held).joined(separator: ", ")
            throw RuntimeError(.invalid, "container \(config.name): capabilities \(missing) are not held by the runtime, so they cannot be added")
        }
        spec.capBounding = caps
        spec.capPermitted = caps
        spec.capEffective = caps
        spec.capInheritable = 0
        spec.capAmbient = 0
        spec.noNewPrivileges = security.noNewPrivileges
        spec.seccompBPF = try seccomp(security, capabilities: caps)
        spec.privileged = security.privileged
        spec.readOnlyRootfs = security.readOnlyRootfs
        spec.maskedPaths = security.privileged ? [] : (security.maskedPaths ?? Self.defaultMaskedPaths)
        spec.readOnlyPaths = security.privileged ? [] : (security.readOnlyPaths ?? Self.defaultReadOnlyPaths)
        // Containers must not inherit the shim's protection from the OOM killer.
        spec.oomScoreAdj = config.resources.oomScoreAdj ?? 0
        spec.newPIDNamespace = sandbox.config.pid == .container
        spec.newUTSNamespace = false
        spec.shmSource = sandbox.config.ipc == .node ? "" : ShimProtocol.Paths.shm(sandboxDir)
        spec.mounts = mounts(config)
        spec.tty = config.tty
        spec.openStdin = config.stdin
        spec.stdinOnce = config.stdinOnce
        return spec
    }

    /// Kubernetes' rules: `command` replaces the Entrypoint, `args` replace the Cmd.
    func command(_ config: ContainerConfig) throws -> [String] {
        let argv: [String]
        if !config.command.isEmpty { argv = config.command + config.args }
        else if !config.args.isEmpty { argv = image.entrypoint + config.args }
        else { argv = image.entrypoint + image.cmd }
        guard let first = argv.first, !first.isEmpty else {
            throw RuntimeError(.invalid, "container \(config.name): no command specified (image \(image.reference) has no Entrypoint or Cmd)")
        }
        return argv
    }

    func environment(_ config: ContainerConfig) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ pair: String) {
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? pair
            if values[name] == nil { order.append(name) }
            values[name] = pair
        }
        if !image.env.contains(where: { $0.hasPrefix("PATH=") }) {
            set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        }
        for e in image.env { set(e) }
        set("HOSTNAME=" + sandbox.config.hostname)
        for e in config.env { set(e) }
        return order.compactMap { values[$0] }
    }

    func seccomp(_ security: ContainerSecurity, capabilities: UInt64) throws -> [UInt8] {
        if security.privileged { return [] }
        switch security.seccomp {
        case .unconfined: return []
        case .unset where !runtime.config.seccompDefault: return []
        case .unset, .runtimeDefault:
            if let cached = runtime.seccompCache.withLock({ $0[capabilities] }) { return cached }
            let bpf = try Seccomp.compile(Seccomp.runtimeDefault(capabilities: capabilities))
            runtime.seccompCache.withLock { $0[capabilities] = bpf }
            return bpf
        case .localhost(let path):
            return try Seccomp.compile(try SeccompProfileFile.load(path))
        }
    }

    func mounts(_ config: ContainerConfig) -> [ContainerSpawnSpec.Mount] {
        var result: [ContainerSpawnSpec.Mount] = []
        let targets = Set(config.mounts.map(\.containerPath))
        let etcReadOnly = config.security.readOnlyRootfs
        for (file, target) in [("hostname", "/etc/hostname"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")]
        where !targets.contains(target) {
            let source = sandboxDir + "/" + file
            if FileSystem.exists(source) {
                result.append(.init(kind: .bind, source: source, target: target, flags: etcReadOnly ? UInt(MS_RDONLY) : 0, targetIsFile: true))
            }
        }
        for m in config.mounts {
            if let size = m.tmpfsSize {
                result.append(.init(kind: .filesystem, source: "tmpfs", target: m.containerPath, fsType: "tmpfs",
                                    flags: UInt(MS_NOSUID | MS_NODEV) | (m.readOnly ? UInt(MS_RDONLY) : 0),
                                    data: size > 0 ? "size=\(size)" : ""))
            } else {
                let isFile = !FileSystem.isDirectory(m.hostPath)
                result.append(.init(kind: .bind, source: m.hostPath, target: m.containerPath, flags: m.readOnly ? UInt(MS_RDONLY) : 0,
                                    targetIsFile: isFile))
            }
        }
        return result
    }
}

extension RuntimeService {
    /// /etc/hostname, /etc/hosts and /etc/resolv.conf for the pod, in the sandbox directory.
    func writeEtcFiles(_ record: SandboxRecord) throws {
        let dir = sandboxDir(record.id)
        let hostname = record.config.hostname
        try FileSystem.writeAtomically(dir + "/hostname", hostname + "\n")
        var hosts = """
        # Kubernetes-managed hosts file.
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        fe00::0\tip6-mcastprefix
        fe00::1\tip6-allnodes
        fe00::2\tip6-allrouters

        """
        for ip in record.network?.ips ?? [] { hosts += "\(ip)\t\(hostname)\n" }
        for alias in record.config.hostAliases { hosts += alias + "\n" }
        try FileSystem.writeAtomically(dir + "/hosts", hosts)
        var resolv = ""
        if let dns = record.config.dns, !dns.servers.isEmpty || !dns.searches.isEmpty || !dns.options.isEmpty {
            if !dns.searches.isEmpty { resolv += "search " + dns.searches.joined(separator: " ") + "\n" }
            for server in dns.servers { resolv += "nameserver \(server)\n" }
            if !dns.options.isEmpty { resolv += "options " + dns.options.joined(separator: " ") + "\n" }
        } else {
            resolv = (try? FileSystem.readString("/etc/resolv.conf")) ?? ""
        }
        try FileSystem.writeAtomically(dir + "/resolv.conf", resolv)
    }
}
