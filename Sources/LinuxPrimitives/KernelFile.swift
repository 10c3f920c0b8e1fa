import Glibc

/// Reads of kernel-generated files (cgroupfs, procfs, sysfs) as the stats collectors need them:
/// whole, cheap, and with "the thing is gone" told apart from a real failure. A cgroup or a
/// process can vanish between listing and reading; that is a normal race, not an error, so it
/// comes back as `nil` while permission and I/O failures still throw with the path.
public enum KernelFile {
    /// The whole file, or `nil` when it (or its process or device) no longer exists.
    public static func read(_ path: String) throws -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        return try readAndClose(fd, path: path)
    }

    /// `read` relative to an open directory (openat): no path walk from the root per file,
    /// which is most of the cost of reading many small cgroup files.
    public static func read(at directory: FileDescriptor, _ name: String) throws -> [UInt8]? {
        let fd = Glibc.openat(directory.rawValue, name, O_RDONLY | O_CLOEXEC)
        return try readAndClose(fd, path: name)
    }

    /// Opens a directory to read files of with `read(at:_:)`; nil when it does not exist.
    public static func openDirectory(_ path: String) throws -> FileDescriptor? {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            let err = Glibc.errno
            if isGone(err) { return nil }
            throw SystemError("open", errno: err, path: path)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Reads to the end of file (a read of 0). A short read is *not* the end: a seq_file hands
    /// out one internal page of whole records per read, so /proc/self/mountinfo on a host with
    /// many mounts (overlay lines are long) comes in several short pieces.
    private static func readAndClose(_ fd: Int32, path: String) throws -> [UInt8]? {
        if fd < 0 {
            let err = Glibc.errno
            if isGone(err) { return nil }
            throw SystemError("open", errno: err, path: path)
        }
        defer { _ = Glibc.close(fd) }
        var out: [UInt8] = []
        let chunk = 8192
        let failure: Int32 = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunk) { buffer in
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, chunk)
                if n < 0 {
                    let err = Glibc.errno
                    if err == EINTR { continue }
                    return err
                }
                if n == 0 { return 0 }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<n]))
            }
        }
        if failure != 0 {
            if isGone(failure) { return nil }
            throw SystemError("read", errno: failure, path: path)
        }
        return out
    }

    /// Names of subdirectories of an open directory (the descriptor is left open and rewound).
    public static func subdirectories(of directory: FileDescriptor) -> [String] {
        let fd = Glibc.dup(directory.rawValue)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { _ = Glibc.close(fd) }
            return []
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Names of the subdirectories of `path` (d_type only, no stat per entry); empty when the
    /// directory is gone. Used to walk child cgroups.
    public static func subdirectories(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            let err = Glibc.errno
            if isGone(err) { return [] }
            throw SystemError("opendir", errno: err, path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Number of entries in a directory other than `.`/`..` (e.g. `/proc/PID/task`), or `nil`
    /// when it is gone.
    public static func countEntries(_ path: String) throws -> Int? {
        guard let dir = opendir(path) else {
            let err = Glibc.errno
            if isGone(err) { return nil }
            throw SystemError("opendir", errno: err, path: path)
        }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = entry.pointee.d_name.0
            if first == 0x2E {  // "." or ".."
                let second = entry.pointee.d_name.1
                if second == 0 || (second == 0x2E && entry.pointee.d_name.2 == 0) { continue }
            }
            count += 1
        }
        return count
    }

    /// ENOENT: removed; ESRCH: the process exited; ENODEV: the cgroup or device went away.
    static func isGone(_ err: Int32) -> Bool {
        err == ENOENT || err == ESRCH || err == ENODEV || err == ENOTDIR
    }

    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: entry.pointee.d_name) { ptr in
            ptr.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
    }
}
