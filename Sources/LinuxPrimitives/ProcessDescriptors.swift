import Glibc

/// Open file descriptors of a process, counted the way cAdvisor's process metrics do: every
/// entry of `/proc/PID/fd`, and those whose link target is `socket:[inode]` as sockets. This
/// needs one readlink per descriptor, which is why callers sample it on the housekeeping
/// schedule and never per scrape.
public enum ProcessDescriptors {
    public struct Counts: Sendable, Equatable {
        public var descriptors: Int
        public var sockets: Int
        public init(descriptors: Int, sockets: Int) {
            self.descriptors = descriptors
            self.sockets = sockets
        }
    }

    /// `nil` when the process is gone (or never existed).
    public static func count(pid: Int32) throws -> Counts? {
        let path = "/proc/\(pid)/fd"
        guard let dir = opendir(path) else {
            let err = Glibc.errno
            if KernelFile.isGone(err) { return nil }
            throw SystemError("opendir", errno: err, path: path)
        }
        defer { closedir(dir) }
        let dirFD = dirfd(dir)
        var counts = Counts(descriptors: 0, sockets: 0)
        // "socket:[" is 8 bytes; reading 8 is enough to classify a link.
        var link = [CChar](repeating: 0, count: 9)
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 == 0x2E { continue }  // "." and ".."
            counts.descriptors += 1
            let n = withUnsafePointer(to: entry.pointee.d_name) { name in
                name.withMemoryRebound(to: CChar.self, capacity: 256) { readlinkat(dirFD, $0, &link, 8) }
            }
            if n == 8 && link[0] == 0x73 && link[1] == 0x6F && link[2] == 0x63 && link[3] == 0x6B
                && link[4] == 0x65 && link[5] == 0x74 && link[6] == 0x3A && link[7] == 0x5B
            {
                counts.sockets += 1
            }
        }
        return counts
    }
}
