import CLinux
import Glibc

/// Host-side mounts the runtime owns: pinned namespaces, a pod's /dev/shm, Memory-medium
/// emptyDirs. Each has one owner that unmounts it; unmounting what is not mounted is fine.
public enum Mounts {
    public static func bind(_ source: String, to target: String, readOnly: Bool = false, recursive: Bool = false) throws {
        let flags = UInt(MS_BIND) | (recursive ? UInt(MS_REC) : 0)
        try syscall("mount(bind \(source))", path: target) { mount(source, target, nil, flags, nil) }
        if readOnly {
            try syscall("mount(remount,ro)", path: target) { mount(nil, target, nil, UInt(MS_REMOUNT | MS_BIND | MS_RDONLY), nil) }
        }
    }

    public static func tmpfs(at target: String, options: String, flags: UInt = UInt(MS_NOSUID | MS_NODEV)) throws {
        try syscall("mount(tmpfs \(options))", path: target) { mount("tmpfs", target, "tmpfs", flags, options) }
    }

    /// Lazily detaches the mount at `target`; not mounted (EINVAL) and missing (ENOENT) are fine.
    public static func unmount(_ target: String) throws {
        if umount2(target, Int32(MNT_DETACH)) != 0 {
            let err = errno
            if err == EINVAL || err == ENOENT { return }
            throw SystemError("umount2", errno: err, path: target)
        }
    }

    /// Mount points at or below `prefix` in this mount namespace, deepest first, from
    /// /proc/self/mountinfo (octal escapes decoded), for orphan clean-up.
    public static func mountPoints(under prefix: String) -> [String] {
        guard let text = try? FileSystem.readString("/proc/self/mountinfo") else { return [] }
        var points: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5)
            guard fields.count > 4 else { continue }
            let point = unescape(String(fields[4]))
            if point == prefix || point.hasPrefix(prefix.hasSuffix("/") ? prefix : prefix + "/") { points.append(point) }
        }
        return points.sorted { $0.count > $1.count }
    }

    public static func isMountPoint(_ path: String) -> Bool {
        mountPoints(under: path).contains(path)
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x5C, i + 3 < b.count, let v = UInt8(String(decoding: b[i + 1...i + 3], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
