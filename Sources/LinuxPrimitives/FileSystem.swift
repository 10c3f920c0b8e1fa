import Glibc
import CLinux

/// File-system operations on paths, Foundation-free so the shim can use them too.
/// Writers that other processes read (state, status, results) go through `writeAtomically`,
/// so a reader or a crash never sees half a file.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func lstatOrNil(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    public static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        do { return try fd.readAll() } catch let error as SystemError {
            throw SystemError(error.call, errno: error.errno, path: path)
        }
    }

    public static func readString(_ path: String) throws -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Small kernel files (cgroup, proc, sys): one read of up to `limit` bytes is enough.
    public static func readSmall(_ path: String, limit: Int = 8192) throws -> String {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        return String(decoding: try fd.read(upTo: limit), as: UTF8.self)
    }

    /// Writes a kernel control file (cgroup, proc, sys) in one write, as the kernel expects.
    public static func writeControl(_ path: String, _ value: String) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY)
        defer { fd.close() }
        do { try fd.writeAll(value) } catch let error as SystemError {
            throw SystemError("write(\(value))", errno: error.errno, path: path)
        }
    }

    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        defer { fd.close() }
        try fd.writeAll(bytes)
    }

    /// Writes `bytes` to a temporary sibling, fsyncs it, and renames it over `path`.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = false) throws {
        let tmp = path + ".tmp.\(getpid()).\(clinuxThreadID())"
        let fd = try FileDescriptor.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do {
            try fd.writeAll(bytes)
            if durable { try fd.fsync() }
            fd.close()
            try syscall("rename", path: path) { rename(tmp, path) }
        } catch {
            fd.close()
            unlink(tmp)
            throw error
        }
    }

    public static func writeAtomically(_ path: String, _ string: String, mode: mode_t = 0o644, durable: Bool = false) throws {
        try writeAtomically(path, Array(string.utf8), mode: mode, durable: durable)
    }

    /// `mkdir -p`: creates every missing component; existing directories are fine.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 {
                let err = Glibc.errno
                if err == EEXIST && isDirectory(prefix) { continue }
                throw SystemError("mkdir", errno: err, path: prefix)
            }
        }
    }

    /// Directory entries other than `.` and `..`; a missing directory is an empty list.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if Glibc.errno == ENOENT { return [] }
            throw SystemError.current("opendir", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file or a whole tree without following symlinks and without crossing into
    /// other mounts' contents (a mount point inside the tree makes removal fail with EBUSY,
    /// which is what we want: mounts have owners that unmount them first). Missing is fine.
    public static func removeTree(_ path: String) throws {
        guard let st = lstatOrNil(path) else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) {
                try removeTree(path + "/" + name)
            }
            if rmdir(path) != 0 && Glibc.errno != ENOENT { throw SystemError.current("rmdir", path: path) }
        } else if unlink(path) != 0 && Glibc.errno != ENOENT {
            throw SystemError.current("unlink", path: path)
        }
    }

    public static func removeFile(_ path: String) throws {
        if unlink(path) != 0 && Glibc.errno != ENOENT { throw SystemError.current("unlink", path: path) }
    }

    public static func symlink(target: String, at path: String) throws {
        try syscall("symlink(\(target))", path: path) { Glibc.symlink(target, path) }
    }
}

@inline(__always) func clinuxThreadID() -> Int32 { clinux_gettid() }
