import CLinux
import Glibc

/// `openat2` path-resolution restrictions. `beneath` is what untrusted paths (layer tar
/// entries, volume subPaths) are opened with: the kernel refuses any resolution that would
/// leave the starting directory, through `..` or through a symlink, instead of us trying to
/// predict it in user space.
public struct ResolveFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let noCrossDevice = ResolveFlags(rawValue: UInt64(CLINUX_RESOLVE_NO_XDEV))
    public static let noMagicLinks = ResolveFlags(rawValue: UInt64(CLINUX_RESOLVE_NO_MAGICLINKS))
    public static let noSymlinks = ResolveFlags(rawValue: UInt64(CLINUX_RESOLVE_NO_SYMLINKS))
    public static let beneath = ResolveFlags(rawValue: UInt64(CLINUX_RESOLVE_BENEATH))
    public static let inRoot = ResolveFlags(rawValue: UInt64(CLINUX_RESOLVE_IN_ROOT))
}

/// Descriptor-relative file operations. Everything that writes into a tree built from
/// untrusted input goes through these, relative to a directory descriptor obtained with
/// `openBeneath`, so no path component is ever re-resolved from the global namespace.
extension FileDescriptor {
    public static let pathOnly: Int32 = Int32(CLINUX_O_PATH)
    public static let emptyPathFlag: Int32 = Int32(CLINUX_AT_EMPTY_PATH)

    /// `openat2(self, path, flags | O_CLOEXEC, resolve)`; `path` may have several components.
    public func openBeneath(_ path: String, _ flags: Int32, mode: mode_t = 0,
                            resolve: ResolveFlags = [.beneath, .noMagicLinks]) throws -> FileDescriptor {
        let fd = try syscall("openat2", path: path) {
            clinux_openat2(rawValue, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve.rawValue)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// `fstatat(..., AT_SYMLINK_NOFOLLOW)`; nil when the entry does not exist.
    public func statAt(_ name: String) throws -> Glibc.stat? {
        var st = Glibc.stat()
        if fstatat(rawValue, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return st }
        let err = Glibc.errno
        if err == ENOENT { return nil }
        throw SystemError("fstatat", errno: err, path: name)
    }

    /// `fstat` of this descriptor.
    public func status() throws -> Glibc.stat {
        var st = Glibc.stat()
        try syscall("fstat") { fstat(rawValue, &st) }
        return st
    }

    public func makeDirectory(_ name: String, mode: mode_t) throws {
        try syscall("mkdirat", path: name) { mkdirat(rawValue, name, mode) }
    }

    public func makeSymlink(_ name: String, target: String) throws {
        try syscall("symlinkat(\(target))", path: name) { symlinkat(target, rawValue, name) }
    }

    /// `linkat(sourceDir, sourceName, self, name, 0)`: never follows a symlink at the source.
    public func makeHardLink(_ name: String, to sourceName: String, in sourceDir: FileDescriptor) throws {
        try syscall("linkat(\(sourceName))", path: name) { linkat(sourceDir.rawValue, sourceName, rawValue, name, 0) }
    }

    /// `mknodat`: device nodes, fifos and overlayfs whiteouts (a 0/0 character device).
    public func makeNode(_ name: String, mode: mode_t, major: UInt32 = 0, minor: UInt32 = 0) throws {
        let dev = dev_t(clinux_makedev(major, minor))
        try syscall("mknodat", path: name) { mknodat(rawValue, name, mode, dev) }
    }

    /// `fchownat(..., AT_SYMLINK_NOFOLLOW)`; a nil name changes this descriptor's own inode.
    public func changeOwner(_ name: String?, uid: uid_t, gid: gid_t) throws {
        let flags = name == nil ? FileDescriptor.emptyPathFlag : AT_SYMLINK_NOFOLLOW
        try syscall("fchownat(\(uid):\(gid))", path: name) { fchownat(rawValue, name ?? "", uid, gid, flags) }
    }

    /// `fchmod` of this descriptor (must not be O_PATH), or `fchmodat` of a non-symlink entry.
    public func changeMode(_ name: String?, mode: mode_t) throws {
        if let name {
            try syscall("fchmodat(\(String(mode, radix: 8)))", path: name) { fchmodat(rawValue, name, mode, 0) }
        } else {
            try syscall("fchmod(\(String(mode, radix: 8)))") { fchmod(rawValue, mode) }
        }
    }

    /// Sets access and modification time (both to `seconds.nanoseconds`) without following a
    /// symlink; a nil name sets this descriptor's own inode.
    public func setTimes(_ name: String?, seconds: Int, nanoseconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
        let flags = name == nil ? FileDescriptor.emptyPathFlag : AT_SYMLINK_NOFOLLOW
        try syscall("utimensat", path: name) { utimensat(rawValue, name ?? "", &times, flags) }
    }

    public func unlinkAt(_ name: String, directory: Bool = false) throws {
        try syscall(directory ? "unlinkat(AT_REMOVEDIR)" : "unlinkat", path: name) {
            unlinkat(rawValue, name, directory ? AT_REMOVEDIR : 0)
        }
    }

    /// Removes `name` and, if it is a directory, everything below it, through descriptors only
    /// (a symlink inside is removed, never followed). Missing is fine.
    public func removeTreeAt(_ name: String) throws {
        guard let st = try statAt(name) else { return }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            try unlinkAt(name)
            return
        }
        let dir = try openAt(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { dir.close() }
        for child in try dir.directoryEntries() {
            try dir.removeTreeAt(child)
        }
        try unlinkAt(name, directory: true)
    }

    /// Names in this directory other than `.` and `..` (reads through a duplicate, so this
    /// descriptor's own offset and lifetime are untouched).
    public func directoryEntries() throws -> [String] {
        let copy = try syscall("openat(.)") { openat(rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let dir = fdopendir(copy) else {
            let err = Glibc.errno
            Glibc.close(copy)
            throw SystemError("fdopendir", errno: err)
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

    /// `renameat2(self, from, target, to)`; with `noReplace` an existing target is an EEXIST error.
    public func renameAt(_ from: String, to: String, in target: FileDescriptor? = nil, noReplace: Bool = false) throws {
        let targetFD = target?.rawValue ?? rawValue
        try syscall("renameat2(\(from))", path: to) {
            clinux_renameat2(rawValue, from, targetFD, to, noReplace ? UInt32(CLINUX_RENAME_NOREPLACE) : 0)
        }
    }

    /// `fsetxattr` on this (non-O_PATH) descriptor.
    public func setExtendedAttribute(_ name: String, value: [UInt8]) throws {
        _ = try value.withUnsafeBytes { raw in
            try syscall("fsetxattr(\(name))") { clinux_fsetxattr(rawValue, name, raw.baseAddress, raw.count, 0) }
        }
    }

    /// Sets an xattr on entry `entry` of this directory without following a symlink there:
    /// `lsetxattr` through `/proc/self/fd/N/entry`, where the kernel resolves `N` to exactly
    /// this directory (not a path that could have been swapped).
    public func setExtendedAttribute(_ name: String, value: [UInt8], onEntry entry: String) throws {
        let path = "/proc/self/fd/\(rawValue)/\(entry)"
        _ = try value.withUnsafeBytes { raw in
            try syscall("lsetxattr(\(name))", path: entry) { clinux_lsetxattr(path, name, raw.baseAddress, raw.count, 0) }
        }
    }

    /// Reads an xattr of this descriptor's inode; nil when it is not set.
    public func extendedAttribute(_ name: String) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { clinux_fgetxattr(rawValue, name, $0.baseAddress, $0.count) }
        if n < 0 {
            let err = Glibc.errno
            if err == ENODATA { return nil }
            throw SystemError("fgetxattr(\(name))", errno: err)
        }
        return Array(buffer[0..<n])
    }

    /// Writes every byte of `buffer`, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let n = try syscallSize("write") { Glibc.write(rawValue, buffer.baseAddress! + offset, buffer.count - offset) }
            offset += n
        }
    }

    /// `read` into `buffer`; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try syscallSize("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// `pread` at `offset`; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try syscallSize("pread") { Glibc.pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// `flock`: advisory whole-file lock shared between processes (and between separately
    /// opened descriptors within one process). Blocks until granted.
    public func lock(exclusive: Bool = true) throws {
        try syscall("flock") { flock(rawValue, exclusive ? LOCK_EX : LOCK_SH) }
    }

    public func unlock() {
        _ = flock(rawValue, LOCK_UN)
    }
}

extension FileSystem {
    /// `rename`, or with `noReplace` `renameat2(RENAME_NOREPLACE)`: publishing a directory
    /// that someone else may publish concurrently under the same name fails with EEXIST
    /// instead of replacing theirs (plain rename would replace an empty target directory).
    public static func renameItem(_ from: String, to: String, noReplace: Bool = false) throws {
        try syscall("renameat2(\(from))", path: to) {
            clinux_renameat2(AT_FDCWD, from, AT_FDCWD, to, noReplace ? UInt32(CLINUX_RENAME_NOREPLACE) : 0)
        }
    }
}

extension FileSystem {
    /// `lgetxattr`: an xattr of `path` itself (a symlink is not followed); nil when not set.
    public static func extendedAttribute(_ name: String, of path: String) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { clinux_lgetxattr(path, name, $0.baseAddress, $0.count) }
        if n < 0 {
            let err = Glibc.errno
            if err == ENODATA { return nil }
            throw SystemError("lgetxattr(\(name))", errno: err, path: path)
        }
        return Array(buffer[0..<n])
    }
}
