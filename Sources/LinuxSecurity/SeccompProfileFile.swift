import Foundation
import Glibc

/// A seccomp profile file in the OCI / Docker JSON format (`defaultAction`, `syscalls[]` with
/// `names`, `action`, `args`, `errnoRet`), as `Localhost` profiles give it.
public enum SeccompProfileFile {
    struct File: Decodable {
        var defaultAction: String
        var defaultErrnoRet: Int32?
        var syscalls: [Syscall]?
    }

    struct Syscall: Decodable {
        var names: [String]?
        var name: String?
        var action: String
        var errnoRet: Int32?
        var args: [Arg]?
    }

    struct Arg: Decodable {
        var index: UInt32
        var value: UInt64
        var valueTwo: UInt64?
        var op: String
    }

    public struct InvalidProfile: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let message: String
        public var description: String { "seccomp profile \(path): \(message)" }
    }

    public static func load(_ path: String) throws -> Seccomp.Profile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InvalidProfile(path: path, message: "cannot read the file")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw InvalidProfile(path: path, message: "not a seccomp profile: \(error)")
        }
        let defaultAction = try action(file.defaultAction, errno: file.defaultErrnoRet, path: path)
        var rules: [Seccomp.Rule] = []
        for (index, s) in (file.syscalls ?? []).enumerated() {
            let names = (s.names ?? []) + (s.name.map { [$0] } ?? [])
            let conditions = try (s.args ?? []).map { arg in
                Seccomp.Condition(index: arg.index, op: try op(arg.op, path: path, at: index), value: arg.value, valueTwo: arg.valueTwo ?? 0)
            }
            rules.append(Seccomp.Rule(names: names, action: try action(s.action, errno: s.errnoRet, path: path), conditions: conditions))
        }
        return Seccomp.Profile(defaultAction: defaultAction, rules: rules)
    }

    static func action(_ name: String, errno: Int32?, path: String) throws -> Seccomp.Action {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(errno ?? EPERM)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD": return .kill
        case "SCMP_ACT_LOG": return .log
        case "SCMP_ACT_TRAP": return .trap
        default: throw InvalidProfile(path: path, message: "unknown action \(name)")
        }
    }

    static func op(_ name: String, path: String, at index: Int) throws -> Seccomp.Condition.Op {
        switch name {
        case "SCMP_CMP_EQ": return .equal
        case "SCMP_CMP_NE": return .notEqual
        case "SCMP_CMP_LT": return .lessThan
        case "SCMP_CMP_LE": return .lessOrEqual
        case "SCMP_CMP_GT": return .greaterThan
        case "SCMP_CMP_GE": return .greaterOrEqual
        case "SCMP_CMP_MASKED_EQ": return .maskedEqual
        default: throw InvalidProfile(path: path, message: "syscalls[\(index)]: unknown operator \(name)")
        }
    }
}
