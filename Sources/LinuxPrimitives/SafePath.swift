import CLinux
import Glibc

/// Opening a path strictly beneath a directory, so a symlink planted inside (a volume's subPath,
/// an image layer) cannot lead outside it (openat2 RESOLVE_BENEATH, Linux 5.6).
public enum SafePath {
    static let resolveBeneath: UInt64 = 0x08
    static let resolveNoMagicLinks: UInt64 = 0x02

    /// Opens `relative` beneath `root` as an O_PATH descriptor; with `createDirectories` the
    /// missing components are created (each one created beneath the previous, never through a
    /// symlink). Fails with EXDEV when resolution would leave `root`.
    public static func openBeneath(root: String, _ relative: String, createDirectories: Bool = false) throws -> FileDescriptor {
        let rootFD = try FileDescriptor.open(root, Int32(CLINUX_O_PATH) | O_DIRECTORY)
        defer { rootFD.close() }
        let components = relative.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }
        if components.contains("..") { throw SystemError("openat2(RESOLVE_BENEATH)", errno: EXDEV, path: relative) }
        var current = try rootFD.duplicate()
        for (index, name) in components.enumerated() {
            var fd = clinux_openat2(current.rawValue, name, UInt64(Int32(CLINUX_O_PATH) | O_CLOEXEC), 0, resolveBeneath | resolveNoMagicLinks)
            if fd < 0 && errno == ENOENT && createDirectories && index < components.count {
                if mkdirat(current.rawValue, name, 0o755) != 0 && errno != EEXIST {
                    let err = errno
                    current.close()
                    throw SystemError("mkdirat", errno: err, path: relative)
                }
                fd = clinux_openat2(current.rawValue, name, UInt64(Int32(CLINUX_O_PATH) | O_CLOEXEC), 0, resolveBeneath | resolveNoMagicLinks)
            }
            let err = errno
            current.close()
            if fd < 0 { throw SystemError("openat2(RESOLVE_BENEATH)", errno: err, path: root + "/" + relative) }
            current = FileDescriptor(rawValue: fd)
        }
        return current
    }

    /// The `/proc/self/fd/N` path naming an open descriptor, usable as a mount source.
    public static func procPath(_ fd: FileDescriptor) -> String { "/proc/self/fd/\(fd.rawValue)" }
}
