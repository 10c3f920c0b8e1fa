import CLinux
import CSystemLibs
import Glibc
import LinuxPrimitives

/// Seccomp profiles compiled to BPF with libseccomp in the agent; the container's init only
/// loads the resulting program (C, between clone and exec).
public enum Seccomp {
    public enum Action: Sendable, Equatable {
        case allow
        case errno(Int32)
        case kill
        case log
        case trap
    }

    /// One rule: these syscalls get `action`, optionally only when every argument condition holds.
    public struct Rule: Sendable, Equatable {
        public var names: [String]
        public var action: Action
        public var conditions: [Condition]

        public init(names: [String], action: Action, conditions: [Condition] = []) {
            self.names = names
            self.action = action
            self.conditions = conditions
        }
    }

    public struct Condition: Sendable, Equatable {
        public enum Op: Sendable { case equal, notEqual, lessThan, lessOrEqual, greaterThan, greaterOrEqual, maskedEqual }
        public var index: UInt32
        public var op: Op
        public var value: UInt64
        public var valueTwo: UInt64

        public init(index: UInt32, op: Op, value: UInt64, valueTwo: UInt64 = 0) {
            self.index = index
            self.op = op
            self.value = value
            self.valueTwo = valueTwo
        }
    }

    public struct Profile: Sendable, Equatable {
        public var defaultAction: Action
        public var rules: [Rule]

        public init(defaultAction: Action, rules: [Rule]) {
            self.defaultAction = defaultAction
            self.rules = rules
        }
    }

    public struct CompileError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { "seccomp: " + message }
    }

    /// Compiles a profile for this machine's architectures (x86_64 plus x86 and x32 on amd64,
    /// as containerd adds them) into `struct sock_filter` bytes.
    public static func compile(_ profile: Profile) throws -> [UInt8] {
        guard let ctx = seccomp_init(raw(profile.defaultAction)) else { throw CompileError(message: "seccomp_init failed") }
        defer { seccomp_release(ctx) }
        #if arch(x86_64)
        for arch in [SCMP_ARCH_X86, SCMP_ARCH_X32] {
            let rc = seccomp_arch_add(ctx, UInt32(bitPattern: Int32(truncatingIfNeeded: arch)))
            if rc != 0 && rc != -EEXIST { throw CompileError(message: "seccomp_arch_add: \(SystemError.errnoName(-rc))") }
        }
        #endif
        for rule in profile.rules {
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR { continue }  // not on this architecture
                var args = rule.conditions.map { c in
                    scmp_arg_cmp(arg: c.index, op: raw(c.op), datum_a: c.value, datum_b: c.valueTwo)
                }
                let rc = args.withUnsafeMutableBufferPointer {
                    seccomp_rule_add_array(ctx, raw(rule.action), nr, UInt32($0.count), $0.baseAddress)
                }
                // -EEXIST: the action equals the default; -EACCES/-EINVAL: a syscall the
                // multiplexed x86 ABI cannot filter by argument. Neither is an error in the profile.
                if rc != 0 && rc != -EEXIST && rc != -EACCES && rc != -EINVAL && rc != -EOPNOTSUPP {
                    throw CompileError(message: "rule for \(name): \(SystemError.errnoName(-rc))")
                }
            }
        }
        let fd = clinux_memfd_create("seccomp", 1 /* MFD_CLOEXEC */)
        guard fd >= 0 else { throw SystemError.current("memfd_create") }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        let rc = seccomp_export_bpf(ctx, fd)
        if rc != 0 { throw CompileError(message: "seccomp_export_bpf: \(SystemError.errnoName(-rc))") }
        lseek(fd, 0, SEEK_SET)
        return try file.readAll()
    }

    static func raw(_ action: Action) -> UInt32 {
        switch action {
        case .allow: return SCMP_ACT_ALLOW
        case .errno(let e): return swiftlet_scmp_act_errno(UInt32(e))
        case .kill: return SCMP_ACT_KILL_PROCESS
        case .log: return SCMP_ACT_LOG
        case .trap: return SCMP_ACT_TRAP
        }
    }

    static func raw(_ op: Condition.Op) -> scmp_compare {
        switch op {
        case .equal: return SCMP_CMP_EQ
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .greaterThan: return SCMP_CMP_GT
        case .greaterOrEqual: return SCMP_CMP_GE
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }
}
