import Glibc

/// Size and inode counts of the filesystem holding a path (statvfs), plus the device it lives
/// on, so usage of a directory can be reported next to the limits of the disk it fills.
public struct FilesystemCapacity: Sendable, Equatable {
    public var capacityBytes: UInt64
    /// Bytes an unprivileged writer can still use (f_bavail), what kubelet calls available.
    public var availableBytes: UInt64
    public var freeBytes: UInt64
    public var inodes: UInt64
    public var inodesFree: UInt64

    public init(capacityBytes: UInt64, availableBytes: UInt64, freeBytes: UInt64, inodes: UInt64, inodesFree: UInt64) {
        self.capacityBytes = capacityBytes
        self.availableBytes = availableBytes
        self.freeBytes = freeBytes
        self.inodes = inodes
        self.inodesFree = inodesFree
    }

    public static func of(_ path: String) throws -> FilesystemCapacity {
        var info = statvfs()
        try syscall("statvfs", path: path) { statvfs(path, &info) }
        let unit = UInt64(info.f_frsize > 0 ? info.f_frsize : info.f_bsize)
        return FilesystemCapacity(
            capacityBytes: UInt64(info.f_blocks) * unit,
            availableBytes: UInt64(info.f_bavail) * unit,
            freeBytes: UInt64(info.f_bfree) * unit,
            inodes: UInt64(info.f_files),
            inodesFree: UInt64(info.f_ffree))
    }
}

/// A device number split the way /proc/partitions, io.stat and mountinfo print it.
public struct DeviceNumber: Sendable, Hashable, CustomStringConvertible {
    public var major: UInt32
    public var minor: UInt32

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// The device holding `path` (st_dev of stat, following symlinks).
    public static func of(_ path: String) throws -> DeviceNumber {
        var st = stat()
        try syscall("stat", path: path) { stat(path, &st) }
        return DeviceNumber(UInt64(st.st_dev))
    }

    /// Splits a dev_t as glibc's gnu_dev_major/gnu_dev_minor do (those are macros Swift
    /// cannot call).
    public init(_ device: UInt64) {
        major = UInt32(truncatingIfNeeded: ((device >> 8) & 0xFFF) | ((device >> 32) & ~UInt64(0xFFF)))
        minor = UInt32(truncatingIfNeeded: (device & 0xFF) | ((device >> 12) & ~UInt64(0xFF)))
    }

    public var description: String { "\(major):\(minor)" }
}

/// The identity of a file (device + inode, following symlinks): tells whether a path such as
/// a bind-mounted network namespace still names the same object as before.
public struct FileIdentity: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64

    /// nil when the path does not exist or cannot be stat'ed.
    public static func of(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}
