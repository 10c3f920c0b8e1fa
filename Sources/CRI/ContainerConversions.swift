import CRIAPI
import Foundation
import GRPCCore
import LinuxPrimitives
import Runtime

/// ContainerConfig in, Container/ContainerStatus out.
enum ContainerConversions {
    static func containerConfig(_ c: Runtime_V1_ContainerConfig) throws -> ContainerConfig {
        guard c.hasMetadata, !c.metadata.name.isEmpty else { throw CRIErrors.invalid("config.metadata.name is required") }
        guard c.hasImage, !c.image.image.isEmpty else { throw CRIErrors.invalid("config.image.image is required") }
        let env = c.envs.map { $0.key + "=" + $0.value }
        let mounts = try c.mounts.map(mount)
        return ContainerConfig(name: c.metadata.name, attempt: c.metadata.attempt, image: c.image.image, command: c.command, args: c.args,
                               workingDir: c.workingDir, env: env, mounts: mounts, labels: c.labels, annotations: c.annotations,
                               logPath: c.logPath, resources: resources(c.linux.resources),
                               security: try security(c.linux.securityContext, present: c.linux.hasSecurityContext),
                               stdin: c.stdin, stdinOnce: c.stdinOnce, tty: c.tty)
    }

    static func mount(_ m: Runtime_V1_Mount) throws -> ContainerMount {
        guard m.containerPath.hasPrefix("/") else {
            throw CRIErrors.invalid("mount: container_path \"\(m.containerPath)\" must be absolute")
        }
        if m.hasImage && !m.image.image.isEmpty {
            throw CRIErrors.invalid("mount \(m.containerPath): image volumes are not supported")
        }
        guard m.hostPath.hasPrefix("/") else {
            throw CRIErrors.invalid("mount \(m.containerPath): host_path \"\(m.hostPath)\" must be absolute")
        }
        // A missing host path becomes a directory, as containerd does for hostPath volumes.
        if FileSystem.lstatOrNil(m.hostPath) == nil {
            do { try FileSystem.createDirectory(m.hostPath) } catch {
                throw CRIErrors.invalid("mount \(m.containerPath): creating host_path \(m.hostPath): \(error)")
            }
        }
        return ContainerMount(containerPath: m.containerPath, hostPath: m.hostPath, readOnly: m.readonly || m.recursiveReadOnly)
    }

    /// CRI cgroup v1 style numbers to the runtime's (cpu shares become cpu.weight as runc maps them).
    static func resources(_ r: Runtime_V1_LinuxContainerResources) -> ContainerResources {
        var out = ContainerResources()
        if r.cpuShares > 0 {
            let shares = UInt64(min(max(r.cpuShares, 2), 262_144))
            out.cpuWeight = 1 + ((shares - 2) * 9999) / 262_142
        }
        if r.cpuQuota > 0 { out.cpuQuota = r.cpuQuota }
        if r.cpuPeriod > 0 { out.cpuPeriod = r.cpuPeriod }
        if r.memoryLimitInBytes > 0 { out.memoryLimit = r.memoryLimitInBytes }
        if let pids = r.unified["pids.max"], let n = Int64(pids) { out.pidsLimit = n }
        out.oomScoreAdj = Int32(clamping: r.oomScoreAdj)
        return out
    }

    static func linuxResources(_ r: ContainerResources) -> Runtime_V1_LinuxContainerResources {
        var out = Runtime_V1_LinuxContainerResources()
        if let weight = r.cpuWeight { out.cpuShares = Int64(2 + ((max(weight, 1) - 1) * 262_142) / 9999) }
        out.cpuQuota = r.cpuQuota ?? 0
        out.cpuPeriod = r.cpuPeriod ?? 0
        out.memoryLimitInBytes = r.memoryLimit ?? 0
        out.oomScoreAdj = Int64(r.oomScoreAdj ?? 0)
        if let pids = r.pidsLimit { out.unified["pids.max"] = String(pids) }
        return out
    }

    static func security(_ s: Runtime_V1_LinuxContainerSecurityContext, present: Bool) throws -> ContainerSecurity {
        guard present else { return ContainerSecurity() }
        let runAsUser = s.hasRunAsUser ? s.runAsUser.value : nil
        if s.hasRunAsUser && !s.runAsUsername.isEmpty {
            throw CRIErrors.invalid("security_context: run_as_user and run_as_username are mutually exclusive")
        }
        if s.hasRunAsGroup && runAsUser == nil && s.runAsUsername.isEmpty {
            throw CRIErrors.invalid("security_context: run_as_group should only be specified when run_as_user or run_as_username is specified")
        }
        if let uid = runAsUser, uid < 0 || uid > Int64(UInt32.max) {
            throw CRIErrors.invalid("security_context.run_as_user \(uid) is out of range")
        }
        if s.namespaceOptions.pid == .target {
            throw CRIErrors.invalid("security_context.namespace_options.pid: TARGET is not supported")
        }
        return ContainerSecurity(runAsUser: runAsUser, runAsGroup: s.hasRunAsGroup ? s.runAsGroup.value : nil,
                                 supplementalGroups: s.supplementalGroups, readOnlyRootfs: s.readonlyRootfs, privileged: s.privileged,
                                 addCapabilities: s.capabilities.addCapabilities, dropCapabilities: s.capabilities.dropCapabilities,
                                 noNewPrivileges: s.noNewPrivs, seccomp: try seccomp(s),
                                 maskedPaths: s.maskedPaths.isEmpty ? nil : s.maskedPaths,
                                 readOnlyPaths: s.readonlyPaths.isEmpty ? nil : s.readonlyPaths)
            .withUsername(s.runAsUsername)
    }

    static func seccomp(_ s: Runtime_V1_LinuxContainerSecurityContext) throws -> SeccompChoice {
        if s.hasSeccomp {
            switch s.seccomp.profileType {
            case .runtimeDefault: return .runtimeDefault
            case .unconfined: return .unconfined
            case .localhost:
                guard s.seccomp.localhostRef.hasPrefix("/") else {
                    throw CRIErrors.invalid("security_context.seccomp.localhost_ref \"\(s.seccomp.localhostRef)\" must be an absolute path")
                }
                return .localhost(s.seccomp.localhostRef)
            case .UNRECOGNIZED(let n):
                throw CRIErrors.invalid("security_context.seccomp.profile_type \(n) is unknown")
            }
        }
        let path = s.seccompProfilePath
        switch path {
        case "": return .unset
        case "runtime/default", "docker/default": return .runtimeDefault
        case "unconfined": return .unconfined
        default:
            if path.hasPrefix("localhost/") {
                let file = String(path.dropFirst("localhost/".count))
                guard file.hasPrefix("/") else { throw CRIErrors.invalid("seccomp_profile_path \"\(path)\": the profile path must be absolute") }
                return .localhost(file)
            }
            throw CRIErrors.invalid("seccomp_profile_path \"\(path)\" is not one of runtime/default, unconfined, localhost/<path>")
        }
    }

    static func metadata(_ c: ContainerConfig) -> Runtime_V1_ContainerMetadata {
        var m = Runtime_V1_ContainerMetadata()
        m.name = c.name
        m.attempt = c.attempt
        return m
    }

    static func state(_ s: ContainerState) -> Runtime_V1_ContainerState {
        switch s {
        case .created: return .containerCreated
        case .running: return .containerRunning
        case .exited: return .containerExited
        case .unknown: return .containerUnknown
        }
    }

    static func imageSpec(_ image: String) -> Runtime_V1_ImageSpec {
        var spec = Runtime_V1_ImageSpec()
        spec.image = image
        return spec
    }

    static func container(_ r: ContainerRecord, state: ContainerState, imageRef: String) -> Runtime_V1_Container {
        var c = Runtime_V1_Container()
        c.id = r.id
        c.podSandboxID = r.sandboxID
        c.metadata = metadata(r.config)
        c.image = imageSpec(r.config.image)
        c.imageRef = imageRef
        c.imageID = r.imageID
        c.state = Self.state(state)
        c.createdAt = r.createdAt
        c.labels = r.config.labels
        c.annotations = r.config.annotations
        return c
    }

    static func status(_ info: ContainerStatusInfo, imageRef: String, identity: ContainerSpawnSpec?) -> Runtime_V1_ContainerStatus {
        let r = info.record
        var s = Runtime_V1_ContainerStatus()
        s.id = r.id
        s.metadata = metadata(r.config)
        s.state = state(info.state)
        s.createdAt = r.createdAt
        s.startedAt = info.startedAt
        s.finishedAt = info.finishedAt
        s.exitCode = info.exitCode
        s.image = imageSpec(r.config.image)
        s.imageRef = imageRef
        s.imageID = r.imageID
        s.reason = info.reason
        s.message = info.message
        s.labels = r.config.labels
        s.annotations = r.config.annotations
        s.mounts = r.config.mounts.map { m in
            var out = Runtime_V1_Mount()
            out.containerPath = m.containerPath
            out.hostPath = m.hostPath
            out.readonly = m.readOnly
            return out
        }
        s.logPath = r.logPath
        s.resources.linux = linuxResources(r.config.resources)
        if let identity {
            s.user.linux.uid = Int64(identity.uid)
            s.user.linux.gid = Int64(identity.gid)
            s.user.linux.supplementalGroups = identity.groups.map { Int64($0) }
        }
        return s
    }

    static func matches(_ r: ContainerRecord, state: ContainerState, _ f: Runtime_V1_ContainerFilter) -> Bool {
        if !f.id.isEmpty && !r.id.hasPrefix(f.id) { return false }
        if !f.podSandboxID.isEmpty && !r.sandboxID.hasPrefix(f.podSandboxID) { return false }
        if f.hasState && Self.state(state) != f.state.state { return false }
        return f.labelSelector.allSatisfy { r.config.labels[$0.key] == $0.value }
    }
}

extension ContainerSecurity {
    func withUsername(_ name: String) -> ContainerSecurity {
        var copy = self
        copy.runAsUsername = name.isEmpty ? nil : name
        return copy
    }
}
