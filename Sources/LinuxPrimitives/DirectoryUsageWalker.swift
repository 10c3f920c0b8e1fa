import Glibc

/// Disk usage of a directory tree (allocated bytes and inodes, like `du -x` and `find | wc -l`)
/// computed in resumable steps, so a collector can spread a large walk over time with a budget
/// per step instead of stalling on it or spawning `du`. It stays on the starting filesystem,
/// does not follow symlinks, and counts a hard-linked inode once.
///
/// One walker is one pass; make a new one for the next pass. Not thread-safe: its owner (one
/// actor) drives it.
public final class DirectoryUsageWalker {
    public struct Usage: Sendable, Equatable {
        /// Allocated bytes (st_blocks * 512), what a filesystem quota would charge.
        public var bytes: UInt64
        /// Inodes in the tree, the root directory included.
        public var inodes: UInt64
        public init(bytes: UInt64 = 0, inodes: UInt64 = 0) {
            self.bytes = bytes
            self.inodes = inodes
        }
    }

    /// Deeper trees than this are not descended (each level holds one open descriptor).
    public static let maximumDepth = 128

    public let root: String
    private var stack: [OpaquePointer] = []
    private let rootDevice: dev_t
    private var seenLinks: Set<ino_t> = []
    private var usage = Usage()

    /// Starts a pass at `root`; throws when the root cannot be opened as a directory.
    public init(root: String) throws {
        self.root = root
        let fd = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemError.current("open", path: root) }
        var st = stat()
        guard fstat(fd, &st) == 0, let dir = fdopendir(fd) else {
            let error = SystemError.current("fdopendir", path: root)
            _ = Glibc.close(fd)
            throw error
        }
        rootDevice = st.st_dev
        usage = Usage(bytes: UInt64(st.st_blocks) * 512, inodes: 1)
        stack.append(dir)
    }

    deinit {
        for dir in stack { closedir(dir) }
    }

    /// Visits up to `budget` entries. Returns the total once the whole tree has been visited,
    /// `nil` while entries remain.
    public func step(budget: Int) -> Usage? {
        var remaining = budget
        while let dir = stack.last {
            if remaining <= 0 { return nil }
            guard let entry = readdir(dir) else {
                closedir(dir)
                stack.removeLast()
                continue
            }
            let isDot = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: UInt8.self, capacity: 3) { name in
                    name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
                }
            }
            if isDot { continue }
            remaining -= 1
            visit(entry, in: dir)
        }
        return usage
    }

    /// Runs the pass to the end in one go (small trees, tests).
    public func finish() -> Usage {
        while true {
            if let total = step(budget: Int.max) { return total }
        }
    }

    private func visit(_ entry: UnsafeMutablePointer<dirent>, in dir: OpaquePointer) {
        let parent = dirfd(dir)
        var st = stat()
        let statted = withUnsafePointer(to: entry.pointee.d_name) { ptr in
            ptr.withMemoryRebound(to: CChar.self, capacity: 256) { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }
        }
        guard statted == 0 else { return }  // removed while we walked: not ours to count
        if st.st_dev != rootDevice { return }  // another filesystem mounted inside
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        if !isDirectory && st.st_nlink > 1 {
            if !seenLinks.insert(st.st_ino).inserted { return }
        }
        usage.bytes &+= UInt64(st.st_blocks) * 512
        usage.inodes &+= 1
        guard isDirectory, stack.count < Self.maximumDepth else { return }
        let fd = withUnsafePointer(to: entry.pointee.d_name) { ptr in
            ptr.withMemoryRebound(to: CChar.self, capacity: 256) {
                openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        }
        guard fd >= 0 else { return }
        guard let child = fdopendir(fd) else {
            _ = Glibc.close(fd)
            return
        }
        stack.append(child)
    }
}
